/*
 * queue.c — the report daemon's control connection.
 *
 * The daemon keeps one libpq connection in autocommit for the queue: every
 * state change of a run is one call of a function of sql/src/70_reports.sql
 * (one short transaction), and the connection LISTENs on medcrm_report so
 * that request_report() wakes the daemon at once. The workbook is produced
 * on another connection, in another process (daemon.c). A statement that
 * fails because the connection broke (server restart, network) is told apart
 * from one that failed in SQL, so that the caller reconnects and retries.
 */
#include "queue.h"

#include "db.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

/* The queue's messages go into logs and report_run.error: one line each. */
static void
flatten(report_error *err)
{
	char		line[sizeof(err->message)];

	one_line(err->message, line, sizeof(line), false);
	memcpy(err->message, line, sizeof(line));
}

bool
queue_connect(queue *q, report_error *err)
{
	PGresult   *res;

	queue_close(q);
	q->conn = db_open(q->conninfo, PROGRAM " daemon", err);
	if (q->conn == NULL)
	{
		flatten(err);
		return false;
	}
	res = PQexec(q->conn, "LISTEN medcrm_report");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		db_error(err, "could not prepare the session", q->conn, res);
		flatten(err);
		PQclear(res);
		queue_close(q);
		return false;
	}
	PQclear(res);
	return true;
}

bool
queue_alive(const queue *q)
{
	return q->conn != NULL && PQstatus(q->conn) == CONNECTION_OK;
}

void
queue_close(queue *q)
{
	if (q->conn)
		PQfinish(q->conn);
	q->conn = NULL;
}

q_status
queue_exec(queue *q, const char *sql, int nparams, const char *const *params,
		   PGresult **res, report_error *err)
{
	PGresult   *r;
	ExecStatusType st;

	if (res)
		*res = NULL;
	if (!queue_alive(q))
	{
		set_error(err, "not connected to the database");
		return Q_LOST;
	}
	r = PQexecParams(q->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	st = PQresultStatus(r);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
	{
		if (res)
			*res = r;
		else
			PQclear(r);
		return Q_OK;
	}
	db_error(err, "query failed", q->conn, r);
	flatten(err);
	PQclear(r);
	if (PQstatus(q->conn) != CONNECTION_OK)
	{
		queue_close(q);
		return Q_LOST;
	}
	return Q_ERROR;
}

static int
drain(queue *q)
{
	PGnotify   *n;
	int			got = 0;

	while ((n = PQnotifies(q->conn)) != NULL)
	{
		got = 1;
		PQfreemem(n);
	}
	return got;
}

int
queue_wait(queue *q, int timeout_ms, int wake_fd)
{
	struct pollfd pfd[2] = {{.fd = -1, .events = POLLIN}, {.fd = wake_fd, .events = POLLIN}};
	int			rc;

	if (!queue_alive(q))
		return -1;
	if (drain(q))
		return 1;
	pfd[0].fd = PQsocket(q->conn);
	rc = poll(pfd, 2, timeout_ms < 0 ? 0 : timeout_ms);
	if (rc < 0)
		return errno == EINTR ? 0 : -1;
	if (rc == 0 || pfd[0].revents == 0)
		return 0;
	if (!PQconsumeInput(q->conn) || PQstatus(q->conn) != CONNECTION_OK)
	{
		queue_close(q);
		return -1;
	}
	return drain(q);
}
