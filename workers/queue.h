/*
 * queue.h — the report daemon's control connection: the report_run queue
 * functions of sql/src/70_reports.sql, LISTEN medcrm_report, reconnection.
 */
#ifndef MEDCRM_REPORT_QUEUE_H
#define MEDCRM_REPORT_QUEUE_H

#include <libpq-fe.h>

#include "util.h"

typedef enum q_status
{
	Q_OK,						/* the statement ran */
	Q_LOST,						/* the connection is gone: reconnect and retry */
	Q_ERROR						/* the statement failed (err says why) */
} q_status;

typedef struct queue
{
	PGconn	   *conn;
	const char *conninfo;		/* NULL = PG* environment */
} queue;

/* One connection attempt: safe session, LISTEN medcrm_report. */
extern bool queue_connect(queue *q, report_error *err);
extern bool queue_alive(const queue *q);
extern void queue_close(queue *q);
/*
 * Run sql with text parameters; on Q_OK *res holds the result (the caller
 * clears it; res may be NULL to discard it).
 */
extern q_status queue_exec(queue *q, const char *sql, int nparams, const char *const *params,
						   PGresult **res, report_error *err);
/*
 * Wait up to timeout_ms for a notification on medcrm_report, or until wake_fd
 * (-1: none) is readable: 1 notified, 0 timeout or woken, -1 connection lost.
 */
extern int	queue_wait(queue *q, int timeout_ms, int wake_fd);

#endif
