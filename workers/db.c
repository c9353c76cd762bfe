/*
 * db.c — libpq access of the report worker.
 *
 * One connection, one REPEATABLE READ READ ONLY transaction for the whole
 * workbook, so that every sheet shows the same snapshot (the Summary agrees
 * with the detail sheets even while users keep writing). Every value travels
 * as a parameter (PQexecParams), the search_path is emptied right after
 * connecting (layouts schema-qualify every name), and rows are streamed
 * through a NO SCROLL cursor in batches, so that memory does not grow with
 * the number of rows.
 */
#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
db_error(report_error *err, const char *what, PGconn *conn, const PGresult *res)
{
	const char *msg = res ? PQresultErrorMessage(res) : NULL;
	char		line[1024];
	size_t		n;

	if (msg == NULL || *msg == '\0')
		msg = conn ? PQerrorMessage(conn) : "out of memory";
	snprintf(line, sizeof(line), "%s", (msg && *msg) ? msg : "unknown error");
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
		line[--n] = '\0';
	set_error(err, "%s: %s", what, line);
	if (res)
	{
		const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);

		if (hint)
			set_hint(err, "%s", hint);
	}
}

static bool
exec_ok(PGconn *conn, const char *sql, report_error *err)
{
	PGresult   *res = PQexecParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	bool		ok = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK);

	if (!ok)
		db_error(err, "query failed", conn, res);
	PQclear(res);
	return ok;
}

PGconn *
db_open(const char *conninfo, const char *appname, report_error *err)
{
	const char *keys[] = {"dbname", "fallback_application_name", "connect_timeout", NULL};
	const char *vals[] = {conninfo ? conninfo : "", appname, "10", NULL};
	PGconn	   *conn = PQconnectdbParams(keys, vals, 1);

	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
	{
		db_error(err, "could not connect to the database", conn, NULL);
		set_hint(err, "Check -d/--dbname (or \"dbname\" in --config) and the PGHOST, PGPORT, PGDATABASE and PGUSER environment; the server must be running and accept connections.");
		if (conn)
			PQfinish(conn);
		return NULL;
	}
	/* a safe session: no search_path games, unambiguous date output */
	if (!exec_ok(conn, "SELECT pg_catalog.set_config('search_path', '', false), "
				 "pg_catalog.set_config('datestyle', 'ISO, YMD', false), "
				 "pg_catalog.set_config('intervalstyle', 'postgres', false), "
				 "pg_catalog.set_config('extra_float_digits', '1', false)", err))
	{
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

PGconn *
db_connect(const char *conninfo, report_error *err)
{
	PGconn	   *conn = db_open(conninfo, PROGRAM, err);

	if (conn != NULL && !exec_ok(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err))
	{
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

void
db_disconnect(PGconn *conn)
{
	if (conn)
	{
		PGresult   *res = PQexec(conn, "COMMIT");

		PQclear(res);
		PQfinish(conn);
	}
}

char *
db_value(PGconn *conn, const char *sql, report_error *err)
{
	PGresult   *res = PQexecParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0);
	char	   *v = NULL;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		db_error(err, "query failed", conn, res);
	else if (PQntuples(res) == 1 && PQnfields(res) >= 1 && !PQgetisnull(res, 0, 0))
		v = xstrdup(PQgetvalue(res, 0, 0));
	else
		v = xstrdup("");
	PQclear(res);
	return v;
}

int
db_source_exists(PGconn *conn, const char *name, report_error *err)
{
	const char *sql = strchr(name, '(')
		? "SELECT pg_catalog.to_regprocedure($1) IS NOT NULL"
		: "SELECT pg_catalog.to_regclass($1) IS NOT NULL";
	const char *params[1] = {name};
	PGresult   *res = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 0);
	int			r = -1;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		db_error(err, "could not look up a report source", conn, res);
	else
		r = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return r;
}

/* The result of the query sent last (drained, so that the next one can be sent). */
static PGresult *
next_result(PGconn *conn)
{
	PGresult   *res = PQgetResult(conn);
	PGresult   *extra;

	while ((extra = PQgetResult(conn)) != NULL)
		PQclear(extra);
	return res;
}

static bool
missing_state(const char *state)
{
	return state && (strcmp(state, "42P01") == 0 ||	/* undefined_table */
					 strcmp(state, "42883") == 0 ||	/* undefined_function */
					 strcmp(state, "3F000") == 0 ||	/* invalid_schema_name */
					 strcmp(state, "42704") == 0);	/* undefined_object */
}

db_status
db_stream(PGconn *conn, const char *sql, const char *const *params, int nparams,
		  int fetch_rows, db_batch_cb cb, void *arg, report_error *err)
{
	static const unsigned int date_types[8] = {1082, 1082, 1082, 1082, 1082, 1082, 1082, 1082};
	char	   *declare;
	char		fetch[64];
	PGresult   *res;
	bool		first = true;
	db_status	status = DB_OK;

	if (!exec_ok(conn, "SAVEPOINT medcrm_report_sheet", err))
		return DB_ERROR;
	declare = xcalloc(strlen(sql) + 64, 1);
	sprintf(declare, "DECLARE medcrm_report_cursor NO SCROLL CURSOR FOR %s", sql);
	res = PQexecParams(conn, declare, nparams, date_types, params, NULL, NULL, 0);
	free(declare);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		db_error(err, "query failed", conn, res);
		status = missing_state(state) ? DB_MISSING : DB_ERROR;
		PQclear(res);
		goto rollback;
	}
	PQclear(res);
	snprintf(fetch, sizeof(fetch), "FETCH FORWARD %d FROM medcrm_report_cursor", fetch_rows);

	/*
	 * Double buffering: the next FETCH is sent before the current batch is
	 * written, so that the server produces rows while the workbook is being
	 * written (two cores busy instead of one waiting for the other).
	 */
	if (!PQsendQueryParams(conn, fetch, 0, NULL, NULL, NULL, NULL, 0))
	{
		db_error(err, "query failed", conn, NULL);
		status = DB_ERROR;
		goto rollback;
	}
	for (;;)
	{
		int			n;
		bool		more;

		res = next_result(conn);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

			db_error(err, "query failed", conn, res);
			status = missing_state(state) ? DB_MISSING : DB_ERROR;
			PQclear(res);
			goto rollback;
		}
		n = PQntuples(res);
		more = n == fetch_rows;
		if (more && !PQsendQueryParams(conn, fetch, 0, NULL, NULL, NULL, NULL, 0))
		{
			db_error(err, "query failed", conn, NULL);
			PQclear(res);
			status = DB_ERROR;
			goto rollback;
		}
		if ((n > 0 || first) && !cb(arg, res, first))
		{
			PQclear(res);
			if (more)
				PQclear(next_result(conn));	/* the FETCH in flight */
			status = DB_ABORTED;
			goto rollback;
		}
		first = false;
		PQclear(res);
		if (!more)
			break;
	}
	if (!exec_ok(conn, "CLOSE medcrm_report_cursor", err) ||
		!exec_ok(conn, "RELEASE SAVEPOINT medcrm_report_sheet", err))
		return DB_ERROR;
	return DB_OK;

rollback:
	{
		report_error ignored;

		if (!exec_ok(conn, "ROLLBACK TO SAVEPOINT medcrm_report_sheet", &ignored) ||
			!exec_ok(conn, "RELEASE SAVEPOINT medcrm_report_sheet", &ignored))
			return DB_ERROR;
	}
	return status;
}
