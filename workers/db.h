/*
 * db.h — the worker's database access (libpq).
 */
#ifndef MEDCRM_REPORT_DB_H
#define MEDCRM_REPORT_DB_H

#include <libpq-fe.h>

#include "util.h"

typedef enum db_status
{
	DB_OK,
	DB_MISSING,					/* the query's relation or function does not exist */
	DB_ERROR,					/* anything else: the run fails */
	DB_ABORTED					/* the row callback asked to stop (its own error) */
} db_status;

/*
 * Called with each fetched batch; first is true for the first batch (which
 * may hold no rows but always describes the columns). Return false to stop.
 */
typedef bool (*db_batch_cb) (void *arg, const PGresult *res, bool first);

/*
 * Connect (appname as fallback_application_name, 10 s connect timeout) and
 * make the session safe: empty search_path, ISO dates, postgres intervals.
 */
extern PGconn *db_open(const char *conninfo, const char *appname, report_error *err);
/* err = "what: the server's or libpq's message" (as libpq wrote it), with its hint. */
extern void db_error(report_error *err, const char *what, PGconn *conn, const PGresult *res);
/* db_open, then a read-only REPEATABLE READ snapshot for a whole workbook. */
extern PGconn *db_connect(const char *conninfo, report_error *err);
extern void db_disconnect(PGconn *conn);
/* One text value of a parameterless query, or NULL (caller frees). */
extern char *db_value(PGconn *conn, const char *sql, report_error *err);
/* Is "schema.rel" or "schema.fn(types)" installed? -1 on error. */
extern int	db_source_exists(PGconn *conn, const char *name, report_error *err);
/*
 * Run sql with the date parameters (text "YYYY-MM-DD") through a cursor,
 * fetch_rows at a time, inside a savepoint: DB_MISSING (and a message in
 * err) when the query names something not installed (SQLSTATE 42P01, 42883,
 * 3F000, 42704), so that the caller can note it and go on.
 */
extern db_status db_stream(PGconn *conn, const char *sql, const char *const *params,
						   int nparams, int fetch_rows, db_batch_cb cb, void *arg,
						   report_error *err);

#endif
