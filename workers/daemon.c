/*
 * daemon.c — medcrm-report daemon: produces the workbooks that report_run
 * asks for, publishes them into the outbox and e-mails them.
 *
 * The queue lives in PostgreSQL (sql/src/70_reports.sql); this file is the
 * loop around it:
 *
 *   claim     medcrm.report_claim() turns due schedule periods into runs
 *             and hands this worker one run (FOR UPDATE SKIP LOCKED), with a
 *             lease;
 *   produce   a child process opens its own connection and writes the
 *             workbook to OUTBOX/.staging/rID-aATTEMPT.xlsx (temporary file,
 *             fsync, rename — atomic.c), while this process renews the lease
 *             every lease/3 seconds and keeps LISTENing;
 *   publish   in one transaction: medcrm.report_hold() locks the run (still
 *             ours?), the staged file is renamed into OUTBOX/NAME_runID.xlsx
 *             and medcrm.report_complete() records its SHA-256 and rows; if
 *             the run is not recorded ok after all (an error, a lost
 *             COMMIT and a takeover), the file we renamed there is removed
 *             again: the outbox only keeps workbooks of runs that are ok;
 *   fail      medcrm.report_fail() queues the run again after an exponential
 *             backoff (backoff.c), or marks it failed after max_attempts;
 *   deliver   medcrm.report_claim_delivery() hands out a finished run with
 *             recipients; the outbox file (its real path inside the outbox,
 *             its SHA-256 the recorded one) is e-mailed (smtp.c) with a
 *             Message-ID that is the same for every attempt of the run, and
 *             the outcome recorded — a failed delivery is retried with the
 *             same backoff, never by producing the workbook again.
 *
 * A daemon that dies stops renewing its lease; once it expires another
 * daemon takes the run over (and removes the dead attempt's staged files).
 * The outbox only ever receives complete files, by rename. When the control
 * connection breaks (server restart), the daemon reconnects with backoff and
 * retries the step it was doing; the child's work is not lost. SIGTERM or
 * SIGINT: a finished workbook is still published; a workbook in progress is
 * abandoned and its run released to the queue (medcrm.report_release, the
 * attempt not counted); then exit 0.
 *
 * One log line per event on stderr: time, program[pid], run=ID (or -),
 * event=NAME and key=value pairs. The SMTP password is never printed.
 */
#include "daemon.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "backoff.h"
#include "db.h"
#include "engine.h"
#include "layout.h"
#include "period.h"
#include "queue.h"
#include "smtp.h"

#define STAGING_DIR ".staging"
#define RECONNECT_BASE 0.5		/* seconds: first reconnect delay… */
#define RECONNECT_CAP 30.0		/* …doubled up to this */

static volatile sig_atomic_t stop_signal = 0;

/*
 * The self-pipe of the stop signals: on_signal() writes a byte to it and
 * every wait of the daemon polls its read end, so that SIGTERM ends the next
 * wait at once even when it arrives between two waits (during a query).
 * Never drained: once a stop is asked for, every later wait returns at once.
 */
static int	wake_pipe[2] = {-1, -1};

typedef struct daemon_state
{
	const report_config *cfg;
	bool		once;
	queue		q;
	char		host[128];		/* gethostname(), "localhost" if it fails */
	char		worker[256];	/* host:pid:16 hex digits of getrandom() */
	char		staging[PATH_MAX];
	char		outbox_real[PATH_MAX];	/* realpath() of the outbox */
	int			failures;		/* failed attempts and errors (exit code of --once) */
	double		next_rules;		/* monotonic time of the next run_time_rules() */
	double		next_sweep;		/* monotonic time of the next sweep_staging() */
} daemon_state;

/* What the workbook process reports through its pipe (< PIPE_BUF: one write). */
typedef struct child_result
{
	int			rc;
	long		rows;
	report_error err;
} child_result;

static void
on_signal(int sig)
{
	int			saved_errno = errno;

	stop_signal = sig;
	if (wake_pipe[1] >= 0)
		(void) !write(wake_pipe[1], "", 1);
	errno = saved_errno;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleep, woken early by a stop signal. */
static void
sleep_ms(int ms)
{
	struct pollfd pfd = {.fd = wake_pipe[0], .events = POLLIN};

	if (ms > 0 && !stop_signal)
		(void) poll(&pfd, 1, ms);
}

static void
dlog(long run_id, const char *event, const char *fmt,...)
	__attribute__((format(printf, 3, 4)));

static void
dlog(long run_id, const char *event, const char *fmt,...)
{
	struct timespec ts;
	struct tm	tm;
	char		when[32];
	char		line[4096];
	size_t		n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	if (run_id > 0)
		n = (size_t) snprintf(line, sizeof(line), "%s.%03ldZ %s[%d] run=%ld event=%s", when,
							  ts.tv_nsec / 1000000, PROGRAM, (int) getpid(), run_id, event);
	else
		n = (size_t) snprintf(line, sizeof(line), "%s.%03ldZ %s[%d] run=- event=%s", when,
							  ts.tv_nsec / 1000000, PROGRAM, (int) getpid(), event);
	if (fmt && n + 1 < sizeof(line))
	{
		va_list		ap;

		line[n++] = ' ';
		va_start(ap, fmt);
		vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
	}
	fprintf(stderr, "%s\n", line);
	fflush(stderr);
}

static const char *
error_text(const report_error *err, char *buf, size_t size)
{
	char		joined[sizeof(err->message) + sizeof(err->hint) + 8];

	if (err->hint[0])
		snprintf(joined, sizeof(joined), "%s (%s)", err->message, err->hint);
	else
		snprintf(joined, sizeof(joined), "%s", err->message);
	return one_line(joined, buf, size, true);
}

/*
 * Connect the control connection when it is down, with exponential backoff.
 * False when stop is requested (and honour_stop) or max_tries (> 0) failed.
 */
static bool
ensure_connected(daemon_state *d, bool honour_stop, int max_tries)
{
	report_error err;
	char		e[1024];
	int			n = 0;

	while (!queue_alive(&d->q))
	{
		double		delay;

		if (honour_stop && stop_signal)
			return false;
		if (queue_connect(&d->q, &err))
		{
			dlog(0, "connected", "worker=%s", d->worker);
			return true;
		}
		n++;
		delay = backoff_delay(n, RECONNECT_BASE, RECONNECT_CAP);
		dlog(0, "db_unavailable", "attempt=%d retry_in=%.1fs error=\"%s\"", n, delay,
			 one_line(err.message, e, sizeof(e), true));
		if (max_tries > 0 && n >= max_tries)
			return false;
		sleep_ms((int) (delay * 1000));
	}
	return true;
}

/* queue_exec that reconnects and retries when the connection broke. */
static q_status
call(daemon_state *d, const char *sql, int nparams, const char *const *params,
	 PGresult **res, report_error *err, bool honour_stop)
{
	for (;;)
	{
		q_status	st;
		char		e[1024];

		/* without end only in daemon mode, where a stop signal ends it */
		if (!ensure_connected(d, honour_stop, honour_stop && !d->once ? 0 : 3))
		{
			set_error(err, "the database is unavailable");
			return Q_LOST;
		}
		st = queue_exec(&d->q, sql, nparams, params, res, err);
		if (st != Q_LOST)
			return st;
		dlog(0, "db_lost", "error=\"%s\"", one_line(err->message, e, sizeof(e), true));
	}
}

/*
 * Remove a run's files from the staging directory: those of one attempt (the
 * staged workbook rID-aN.xlsx and the engine's temporary .rID-aN.xlsx.XXXXXX),
 * or with attempt 0 those of every attempt — only once this worker holds the
 * run, so that a worker that lost its lease never removes its successor's.
 */
static void
remove_staged(const daemon_state *d, long run_id, int attempt)
{
	char		prefix[2][48];
	DIR		   *dir = opendir(d->staging);
	struct dirent *de;

	if (dir == NULL)
		return;
	if (attempt > 0)
	{
		snprintf(prefix[0], sizeof(prefix[0]), "r%ld-a%d.", run_id, attempt);
		snprintf(prefix[1], sizeof(prefix[1]), ".r%ld-a%d.", run_id, attempt);
	}
	else
	{
		snprintf(prefix[0], sizeof(prefix[0]), "r%ld-", run_id);
		snprintf(prefix[1], sizeof(prefix[1]), ".r%ld-", run_id);
	}
	while ((de = readdir(dir)) != NULL)
	{
		if (strncmp(de->d_name, prefix[0], strlen(prefix[0])) == 0 ||
			strncmp(de->d_name, prefix[1], strlen(prefix[1])) == 0)
		{
			char		path[PATH_MAX + 256];

			snprintf(path, sizeof(path), "%s/%s", d->staging, de->d_name);
			unlink(path);
		}
	}
	closedir(dir);
}

/*
 * Remove staged files of runs that no worker is producing any more (their
 * run is queued, ok or failed — e.g. a dead worker's last attempt, failed by
 * report_claim): a file of a running run may belong to a live daemon.
 */
static void
sweep_staging(daemon_state *d)
{
	DIR		   *dir;
	struct dirent *de;

	d->next_sweep = now_s() + 600;
	dir = opendir(d->staging);
	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL)
	{
		const char *name = de->d_name[0] == '.' ? de->d_name + 1 : de->d_name;
		char		id[32];
		const char *params[1];
		PGresult   *res;
		report_error err;
		long		run_id;
		char	   *end;

		if (name[0] != 'r')
			continue;
		run_id = strtol(name + 1, &end, 10);
		if (end == name + 1 || *end != '-' || run_id <= 0)
			continue;
		snprintf(id, sizeof(id), "%ld", run_id);
		params[0] = id;
		if (queue_exec(&d->q, "SELECT 1 FROM medcrm.report_run WHERE id = $1 AND status = 'running'",
					   1, params, &res, &err) != Q_OK)
		{
			char		e[1024];

			/* left for the next sweep: a file of a running run must never go */
			dlog(0, "sweep_failed", "error=\"%s\"", one_line(err.message, e, sizeof(e), true));
			break;
		}
		if (PQntuples(res) == 0)
		{
			char		path[PATH_MAX + 256];

			snprintf(path, sizeof(path), "%s/%s", d->staging, de->d_name);
			if (unlink(path) == 0)
				dlog(run_id, "staging_swept", "file=%s", de->d_name);
		}
		PQclear(res);
	}
	closedir(dir);
}

/* The test-only pause of the workbook process (docs/reports.md, "Tests"). */
static void
test_pause(const char *point)
{
	const char *ms = getenv("MEDCRM_REPORT_TEST_PAUSE_MS");
	const char *at = getenv("MEDCRM_REPORT_TEST_PAUSE_AT");

	if (ms == NULL || atoi(ms) <= 0)
		return;
	if (strcmp(at ? at : "staged", point) != 0)
		return;
	(void) poll(NULL, 0, atoi(ms));
}

/* In the child: write the workbook to staged. */
static int
produce(const report_config *cfg, const char *report, report_period period,
		const char *staged, child_result *r)
{
	char	   *file = find_layout(cfg->layouts, report);
	layout	   *l = layout_load(file, &r->err);
	PGconn	   *conn;
	engine_options opt;
	int			rc;

	free(file);
	if (l == NULL)
		return EXIT_USAGE;
	conn = db_connect(cfg->dbname, &r->err);
	if (conn == NULL)
	{
		layout_free(l);
		return EXIT_FAILURE_;
	}
	test_pause("connected");
	memset(&opt, 0, sizeof(opt));
	opt.output = staged;
	opt.tmpdir = cfg->tmpdir;
	opt.fetch_rows = cfg->fetch_rows;
	opt.period = period;
	opt.rows_written = &r->rows;
	rc = engine_run(conn, l, &opt, &r->err);
	db_disconnect(conn);
	layout_free(l);
	return rc;
}

static void
child_main(const daemon_state *d, pid_t parent, const char *report, report_period period,
		   const char *staged, int fd)
{
	child_result r;

	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	close(wake_pipe[0]);
	close(wake_pipe[1]);
	wake_pipe[0] = wake_pipe[1] = -1;
	/* never outlive the daemon: a kill -9 of the daemon takes this process too */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(EXIT_FAILURE_);
	memset(&r, 0, sizeof(r));
	r.rc = produce(d->cfg, report, period, staged, &r);
	if (r.rc == EXIT_OK)
		test_pause("staged");
	if (write(fd, &r, sizeof(r)) != (ssize_t) sizeof(r))
		_exit(EXIT_FAILURE_);
	_exit(EXIT_OK);
}

/* Record a failed attempt (its staged files removed): queued again after the backoff, or failed. */
static void
fail_attempt(daemon_state *d, long run_id, int attempt, const report_error *cause)
{
	double		delay = backoff_delay(attempt, d->cfg->retry_base_seconds, d->cfg->retry_max_seconds);
	char		id[32],
				secs[32],
				e[3200];
	const char *params[4];
	PGresult   *res;
	report_error err;

	d->failures++;
	remove_staged(d, run_id, attempt);
	snprintf(id, sizeof(id), "%ld", run_id);
	snprintf(secs, sizeof(secs), "%.3f", delay);
	error_text(cause, e, sizeof(e));
	params[0] = id;
	params[1] = d->worker;
	params[2] = e;
	params[3] = secs;
	if (call(d, "SELECT medcrm.report_fail($1, $2, $3, $4)", 4, params, &res, &err, true) != Q_OK)
	{
		char		e2[1024];

		dlog(run_id, "fail_not_recorded", "error=\"%s\" cause=\"%s\"",
			 one_line(err.message, e2, sizeof(e2), true), e);
		return;
	}
	if (PQgetisnull(res, 0, 0))
		dlog(run_id, "lease_lost", "attempt=%d error=\"%s\"", attempt, e);
	else if (strcmp(PQgetvalue(res, 0, 0), "failed") == 0)
		dlog(run_id, "failed", "attempt=%d final=true error=\"%s\"", attempt, e);
	else
		dlog(run_id, "attempt_failed", "attempt=%d retry_in=%.0fs error=\"%s\"", attempt, delay, e);
	PQclear(res);
}

/* After report_hold() said no: did an earlier COMMIT of ours succeed after all? */
static bool
already_completed(daemon_state *d, long run_id, const char *sha)
{
	char		id[32];
	const char *params[3];
	PGresult   *res;
	report_error err;
	bool		done = false;

	snprintf(id, sizeof(id), "%ld", run_id);
	params[0] = id;
	params[1] = d->worker;
	params[2] = sha;
	if (call(d, "SELECT 1 FROM medcrm.report_run WHERE id = $1 AND worker = $2 "
			 "AND status = 'ok' AND file_sha256 = $3", 3, params, &res, &err, true) == Q_OK)
	{
		done = PQntuples(res) == 1;
		PQclear(res);
	}
	return done;
}

/* ROLLBACK, keeping the error that caused it. */
static void
rollback(daemon_state *d)
{
	report_error ignored;

	(void) queue_exec(&d->q, "ROLLBACK", 0, NULL, NULL, &ignored);
}

/*
 * The run was not recorded ok after its workbook was renamed into the
 * outbox (report_complete or COMMIT failed, or the lease was lost while the
 * COMMIT's answer was): remove that file again, so that the outbox only holds
 * workbooks of runs that are ok. Only our own file goes — the same inode we
 * renamed there; a workbook another daemon has published under the same name
 * since is left alone.
 */
static void
unpublish(long run_id, int attempt, const char *final, const struct stat *ours, const char *why)
{
	struct stat st;

	if (lstat(final, &st) != 0)
	{
		if (errno != ENOENT)
			dlog(run_id, "unpublish_failed", "attempt=%d file=%s error=\"%s\"", attempt, final, strerror(errno));
		return;
	}
	if (st.st_dev != ours->st_dev || st.st_ino != ours->st_ino)
	{
		dlog(run_id, "unpublish_skipped", "attempt=%d file=%s reason=\"the file is no longer the one this attempt published\"",
			 attempt, final);
		return;
	}
	if (unlink(final) != 0)
		dlog(run_id, "unpublish_failed", "attempt=%d file=%s error=\"%s\"", attempt, final, strerror(errno));
	else
		dlog(run_id, "unpublished", "attempt=%d file=%s reason=\"%s\"", attempt, final, why);
}

/*
 * Move the staged workbook into the outbox and record the run as ok, in the
 * transaction that holds the run. Every way out that leaves the run not ok
 * removes the published file again (unpublish).
 */
static void
publish(daemon_state *d, long run_id, int attempt, long rows, const char *staged,
		const char *final)
{
	char		sha[65],
				id[32],
				nrows[32],
				e[1024];
	const char *params[5];
	report_error err;
	bool		published = false;
	struct stat ours;

	if (!file_sha256(staged, sha, &err))
	{
		fail_attempt(d, run_id, attempt, &err);
		return;
	}
	snprintf(id, sizeof(id), "%ld", run_id);
	snprintf(nrows, sizeof(nrows), "%ld", rows);
	params[0] = id;
	params[1] = d->worker;
	params[2] = final;
	params[3] = sha;
	params[4] = nrows;
	memset(&ours, 0, sizeof(ours));
	for (;;)
	{
		PGresult   *res;
		q_status	st;
		bool		held;

		if (!ensure_connected(d, true, d->once ? 3 : 0))
		{
			remove_staged(d, run_id, attempt);
			if (published)
				unpublish(run_id, attempt, final, &ours, "giving up before the run was recorded ok");
			dlog(run_id, "abandoned", "attempt=%d reason=\"%s while the database is unavailable; the lease will expire and another daemon redoes the run\"",
				 attempt, stop_signal ? "stopping" : "giving up");
			d->failures++;
			return;
		}
		st = queue_exec(&d->q, "BEGIN", 0, NULL, NULL, &err);
		if (st == Q_OK)
			st = queue_exec(&d->q, "SELECT medcrm.report_hold($1, $2)", 2, params, &res, &err);
		if (st == Q_LOST)
		{
			dlog(run_id, "db_lost", "error=\"%s\"", one_line(err.message, e, sizeof(e), true));
			continue;
		}
		if (st == Q_ERROR)
		{
			rollback(d);
			if (published)
				unpublish(run_id, attempt, final, &ours, "the run could not be held to record it ok");
			fail_attempt(d, run_id, attempt, &err);
			return;
		}
		held = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		PQclear(res);
		if (!held)
		{
			rollback(d);
			if (already_completed(d, run_id, sha))
			{
				dlog(run_id, "ok", "attempt=%d file=%s sha256=%s rows=%ld", attempt, final, sha, rows);
				return;
			}
			remove_staged(d, run_id, attempt);
			if (published)
				unpublish(run_id, attempt, final, &ours, "another worker took the run over before it was recorded ok");
			dlog(run_id, "lease_lost", "attempt=%d reason=\"another worker took the run over; this workbook is discarded\"", attempt);
			return;
		}
		if (!published)
		{
			if (!atomic_publish(staged, final, &err))
			{
				rollback(d);
				fail_attempt(d, run_id, attempt, &err);
				return;
			}
			if (stat(final, &ours) != 0)
			{
				set_error(&err, "could not stat the published workbook %s: %s", final, strerror(errno));
				rollback(d);
				fail_attempt(d, run_id, attempt, &err);
				return;
			}
			published = true;
		}
		else
		{
			/* renamed by an earlier pass of this loop whose COMMIT was lost */
			char		now[65];
			struct stat cur;

			if (stat(final, &cur) != 0 || cur.st_dev != ours.st_dev || cur.st_ino != ours.st_ino ||
				!file_sha256(final, now, &err) || strcmp(now, sha) != 0)
			{
				rollback(d);
				set_error(&err, "the workbook %s of attempt %d was replaced or removed before it was recorded", final, attempt);
				fail_attempt(d, run_id, attempt, &err);
				return;
			}
		}
		st = queue_exec(&d->q, "SELECT medcrm.report_complete($1, $2, $3, $4, $5)", 5, params, &res, &err);
		if (st == Q_OK)
		{
			bool		done = strcmp(PQgetvalue(res, 0, 0), "t") == 0;

			PQclear(res);
			if (!done)
			{
				rollback(d);
				remove_staged(d, run_id, attempt);
				unpublish(run_id, attempt, final, &ours, "report_complete found the run no longer ours");
				dlog(run_id, "lease_lost", "attempt=%d reason=\"the run was no longer ours when it was recorded; this workbook is discarded\"", attempt);
				return;
			}
			st = queue_exec(&d->q, "COMMIT", 0, NULL, NULL, &err);
		}
		if (st == Q_LOST)
		{
			dlog(run_id, "db_lost", "error=\"%s\"", one_line(err.message, e, sizeof(e), true));
			continue;
		}
		if (st == Q_ERROR)
		{
			rollback(d);
			unpublish(run_id, attempt, final, &ours, "recording the run ok failed");
			fail_attempt(d, run_id, attempt, &err);
			return;
		}
		dlog(run_id, "ok", "attempt=%d file=%s sha256=%s rows=%ld", attempt, final, sha, rows);
		return;
	}
}

static void
release_run(daemon_state *d, long run_id, int attempt)
{
	char		id[32],
				e[1024];
	const char *params[2];
	report_error err;

	snprintf(id, sizeof(id), "%ld", run_id);
	params[0] = id;
	params[1] = d->worker;
	if (call(d, "SELECT medcrm.report_release($1, $2)", 2, params, NULL, &err, false) == Q_OK)
		dlog(run_id, "released", "attempt=%d reason=\"stopping\"", attempt);
	else
		dlog(run_id, "abandoned", "attempt=%d reason=\"stopping; could not release the run: %s; the lease will expire and another daemon redoes it\"",
			 attempt, one_line(err.message, e, sizeof(e), true));
}

typedef enum wait_outcome
{
	W_DONE,						/* the child answered (or died) */
	W_LOST,						/* our lease was taken over */
	W_STOP						/* SIGTERM/SIGINT */
} wait_outcome;

/* Wait for the child, renewing the lease every lease/3 seconds. */
static wait_outcome
watch_child(daemon_state *d, long run_id, int fd, child_result *r, bool *have)
{
	int			hb_ms = d->cfg->lease_seconds * 1000 / 3;
	double		next_hb = now_s() + hb_ms / 1000.0;
	int			down = 0;
	char		id[32],
				lease[16],
				e[1024];
	const char *params[3];

	snprintf(id, sizeof(id), "%ld", run_id);
	snprintf(lease, sizeof(lease), "%d", d->cfg->lease_seconds);
	params[0] = id;
	params[1] = d->worker;
	params[2] = lease;
	*have = false;
	for (;;)
	{
		struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN},
		{.fd = wake_pipe[0], .events = POLLIN}};
		int			wait_ms,
					rc;

		wait_ms = stop_signal ? 0 : (int) ((next_hb - now_s()) * 1000);
		rc = poll(pfd, 2, wait_ms < 0 ? 0 : wait_ms);
		if (rc > 0 && pfd[0].revents != 0)
		{
			*have = read(fd, r, sizeof(*r)) == (ssize_t) sizeof(*r);
			return W_DONE;
		}
		if (rc < 0 && errno != EINTR)
			return W_DONE;
		if (stop_signal)
			return W_STOP;
		if (now_s() < next_hb)
			continue;
		if (!queue_alive(&d->q))
		{
			report_error err;

			if (!queue_connect(&d->q, &err))
			{
				down++;
				dlog(run_id, "db_unavailable", "attempt=%d error=\"%s\"", down,
					 one_line(err.message, e, sizeof(e), true));
				next_hb = now_s() + backoff_delay(down, RECONNECT_BASE, hb_ms / 1000.0);
				continue;
			}
			down = 0;
			dlog(0, "connected", "worker=%s", d->worker);
		}
		{
			PGresult   *res;
			report_error err;
			q_status	st = queue_exec(&d->q, "SELECT medcrm.report_heartbeat($1, $2, $3)",
										3, params, &res, &err);

			if (st == Q_OK)
			{
				bool		held = strcmp(PQgetvalue(res, 0, 0), "t") == 0;

				PQclear(res);
				if (!held)
					return W_LOST;
				next_hb = now_s() + hb_ms / 1000.0;
			}
			else
			{
				dlog(run_id, "heartbeat_failed", "error=\"%s\"", one_line(err.message, e, sizeof(e), true));
				next_hb = now_s() + RECONNECT_BASE;
			}
		}
	}
}

/* One claimed run: produce, publish or fail. */
static void
run_one(daemon_state *d, long run_id, const char *report, report_period period, int attempt)
{
	char		tag[32],
				from[11],
				to[11],
				final[PATH_MAX + 128],
				staged[PATH_MAX + 64];
	int			pipefd[2];
	pid_t		pid,
				parent = getpid();
	child_result r;
	bool		have = false;
	wait_outcome outcome;
	int			status = 0;

	period_file_tag(period, tag, sizeof(tag));
	date_format(period.from, from);
	date_format(period.to, to);
	snprintf(final, sizeof(final), "%s/%s-%s_run%ld.xlsx", d->cfg->outbox, report, tag, run_id);
	snprintf(staged, sizeof(staged), "%s/r%ld-a%d.xlsx", d->staging, run_id, attempt);
	remove_staged(d, run_id, 0);	/* earlier attempts: the run is ours now */

	if (pipe(pipefd) != 0)
	{
		report_error err;

		set_error(&err, "could not create a pipe: %s", strerror(errno));
		fail_attempt(d, run_id, attempt, &err);
		return;
	}
	fflush(stderr);
	pid = fork();
	if (pid < 0)
	{
		report_error err;

		set_error(&err, "could not start the workbook process: %s", strerror(errno));
		close(pipefd[0]);
		close(pipefd[1]);
		fail_attempt(d, run_id, attempt, &err);
		return;
	}
	if (pid == 0)
	{
		close(pipefd[0]);
		child_main(d, parent, report, period, staged, pipefd[1]);
	}
	close(pipefd[1]);
	memset(&r, 0, sizeof(r));
	outcome = watch_child(d, run_id, pipefd[0], &r, &have);
	if (outcome != W_DONE)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	close(pipefd[0]);

	if (outcome == W_STOP)
	{
		remove_staged(d, run_id, attempt);
		release_run(d, run_id, attempt);
		return;
	}
	if (outcome == W_LOST)
	{
		remove_staged(d, run_id, attempt);
		dlog(run_id, "lease_lost", "attempt=%d reason=\"another worker took the run over; this attempt is abandoned\"", attempt);
		return;
	}
	if (!have)
	{
		r.rc = EXIT_FAILURE_;
		if (WIFSIGNALED(status))
			set_error(&r.err, "the workbook process was killed by signal %d", WTERMSIG(status));
		else
			set_error(&r.err, "the workbook process exited with status %d without a result",
					  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	if (r.rc == EXIT_OK)
	{
		dlog(run_id, "produced", "attempt=%d rows=%ld", attempt, r.rows);
		publish(d, run_id, attempt, r.rows, staged, final);
	}
	else
		fail_attempt(d, run_id, attempt, &r.err);
}

/*
 * Run one of the queue's claim functions (sql: $1 worker, $2 lease seconds).
 * Returns its one row, or NULL when nothing was due or the claim failed
 * (logged; a lost connection is reconnected by the main loop).
 */
static PGresult *
claim(daemon_state *d, const char *sql, int lease_seconds)
{
	char		lease[16],
				e[1024];
	const char *params[2];
	PGresult   *res;
	report_error err;
	q_status	st;

	snprintf(lease, sizeof(lease), "%d", lease_seconds);
	params[0] = d->worker;
	params[1] = lease;
	st = queue_exec(&d->q, sql, 2, params, &res, &err);
	if (st != Q_OK)
	{
		if (st == Q_ERROR)
		{
			d->failures++;
			dlog(0, "claim_failed", "error=\"%s\"", one_line(err.message, e, sizeof(e), true));
		}
		else
			dlog(0, "db_lost", "error=\"%s\"", one_line(err.message, e, sizeof(e), true));
		return NULL;
	}
	if (PQntuples(res) == 0)
	{
		PQclear(res);
		return NULL;
	}
	return res;
}

/* Claim and do one run; false when none was due (or the claim failed). */
static bool
process_run(daemon_state *d)
{
	PGresult   *res;
	long		run_id;
	int			attempt;
	report_period period;
	char		report[64];

	res = claim(d, "SELECT run_id, report, period_from, period_to, attempts, taken_over_from "
				"FROM medcrm.report_claim($1, $2)", d->cfg->lease_seconds);
	if (res == NULL)
		return false;
	run_id = atol(PQgetvalue(res, 0, 0));
	snprintf(report, sizeof(report), "%s", PQgetvalue(res, 0, 1));
	if (!date_parse(PQgetvalue(res, 0, 2), &period.from) || !date_parse(PQgetvalue(res, 0, 3), &period.to))
		memset(&period, 0, sizeof(period));
	attempt = atoi(PQgetvalue(res, 0, 4));
	dlog(run_id, "claimed", "report=%s period=%s/%s attempt=%d worker=%s", report,
		 PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3), attempt, d->worker);
	if (!PQgetisnull(res, 0, 5))
		dlog(run_id, "taken_over", "attempt=%d from=%s reason=\"lease expired\"", attempt,
			 PQgetvalue(res, 0, 5));
	PQclear(res);
	run_one(d, run_id, report, period, attempt);
	return true;
}

/*
 * Resolve the file_path a delivery names (real, for reading) and require it
 * inside the outbox: the database says which file to e-mail, but only the
 * outbox's workbooks may leave this host. Nothing is read from a path outside
 * it, and the error names the paths only.
 */
static bool
inside_outbox(daemon_state *d, const char *path, char *real, report_error *err)
{
	size_t		n = strlen(d->outbox_real);

	if (realpath(path, real) == NULL)
	{
		set_error(err, "could not resolve the workbook \"%s\": %s", path, strerror(errno));
		return false;
	}
	if (strncmp(real, d->outbox_real, n) != 0 ||
		(n > 0 && d->outbox_real[n - 1] != '/' && real[n] != '/'))
	{
		set_error(err, "the workbook \"%s\" is outside the outbox \"%s\" (it resolves to \"%s\"); it is not sent",
				  path, d->outbox_real, real);
		return false;
	}
	return true;
}

/* Claim and send one e-mail; false when none was due. */
static bool
process_delivery(daemon_state *d)
{
	char		e[3200],
				id[32],
				secs[32];
	const char *params[4];
	PGresult   *res;
	report_error err;
	long		run_id;
	int			attempt,
				n = 0;
	char		report[64],
				from[16],
				to[16],
				path[PATH_MAX],
				real[PATH_MAX],
				sha[65],
				now[65],
				subject[256],
				body[1024],
				attachment[128],
				message_id[512],
				tag[32];
	char	   *list;
	const char **rcpt;
	report_period period;
	bool		sent;
	double		delay;

	res = claim(d, "SELECT run_id, report, period_from, period_to, file_path, file_sha256, "
				"pg_catalog.array_to_string(recipients, ' '), delivery_attempts "
				"FROM medcrm.report_claim_delivery($1, $2)",
				d->cfg->lease_seconds + d->cfg->smtp_timeout_seconds);
	if (res == NULL)
		return false;
	run_id = atol(PQgetvalue(res, 0, 0));
	snprintf(report, sizeof(report), "%s", PQgetvalue(res, 0, 1));
	snprintf(from, sizeof(from), "%s", PQgetvalue(res, 0, 2));
	snprintf(to, sizeof(to), "%s", PQgetvalue(res, 0, 3));
	snprintf(path, sizeof(path), "%s", PQgetvalue(res, 0, 4));
	snprintf(sha, sizeof(sha), "%s", PQgetvalue(res, 0, 5));
	list = xstrdup(PQgetvalue(res, 0, 6));
	attempt = atoi(PQgetvalue(res, 0, 7));
	PQclear(res);
	/* addresses hold no blanks (report_run_recipients_check) */
	rcpt = xcalloc(strlen(list) / 2 + 2, sizeof(*rcpt));
	for (char *tok = strtok(list, " "); tok; tok = strtok(NULL, " "))
		rcpt[n++] = tok;
	dlog(run_id, "delivery_claimed", "attempt=%d recipients=%d relay=%s", attempt, n,
		 smtp_display_url(d->cfg));

	memset(&period, 0, sizeof(period));
	(void) date_parse(from, &period.from);
	(void) date_parse(to, &period.to);
	period_file_tag(period, tag, sizeof(tag));
	{
		char		last[11];

		date_format(date_from_days(date_to_days(period.to) - 1), last);
		snprintf(subject, sizeof(subject), "medcrm %s report %s to %s", report, from, last);
		snprintf(body, sizeof(body),
				 "The medcrm %s workbook for %s to %s (inclusive) is attached.\r\n\r\n"
				 "Run %ld, SHA-256 %s.\r\n", report, from, last, run_id, sha);
	}
	snprintf(attachment, sizeof(attachment), "%s-%s.xlsx", report, tag);
	/*
	 * The same for every attempt of this run's delivery: a message sent twice
	 * (the relay took it, but the answer or our record of it was lost) is
	 * recognised by mail clients as one.
	 */
	snprintf(message_id, sizeof(message_id), "<medcrm-report.run%ld.%.16s@%s>",
			 run_id, sha, d->host);

	if (!inside_outbox(d, path, real, &err))
		sent = false;
	else if (!file_sha256(real, now, &err))
		sent = false;
	else if (strcmp(now, sha) != 0)
	{
		set_error(&err, "the workbook %s changed since the run (SHA-256 %s, recorded %s)", path, now, sha);
		sent = false;
	}
	else
	{
		smtp_message m;

		m.recipients = rcpt;
		m.nrecipients = n;
		m.subject = subject;
		m.body = body;
		m.file = real;
		m.attachment_name = attachment;
		m.message_id = message_id;
		sent = smtp_send(d->cfg, &m, &err);
	}

	free(rcpt);
	free(list);
	snprintf(id, sizeof(id), "%ld", run_id);
	params[0] = id;
	params[1] = d->worker;
	if (sent)
	{
		if (call(d, "SELECT medcrm.report_delivered($1, $2)", 2, params, &res, &err, false) == Q_OK)
		{
			if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
				dlog(run_id, "delivered", "attempt=%d recipients=%d attachment=%s sha256=%s message_id=%s",
					 attempt, n, attachment, sha, message_id);
			else
			{
				dlog(run_id, "delivery_lease_lost", "attempt=%d recipients=%d message_id=%s reason=\"the e-mail was sent, but another worker took the delivery over; it may be sent again with the same Message-ID\"",
					 attempt, n, message_id);
			}
			PQclear(res);
		}
		else
			dlog(run_id, "delivery_not_recorded", "attempt=%d error=\"%s\"", attempt,
				 one_line(err.message, e, sizeof(e), true));
		return true;
	}
	d->failures++;
	error_text(&err, e, sizeof(e));
	delay = backoff_delay(attempt, d->cfg->retry_base_seconds, d->cfg->retry_max_seconds);
	snprintf(secs, sizeof(secs), "%.3f", delay);
	params[2] = e;
	params[3] = secs;
	if (call(d, "SELECT medcrm.report_delivery_failed($1, $2, $3, $4)", 4, params, &res, &err, false) != Q_OK)
	{
		char		e2[1024];

		dlog(run_id, "delivery_not_recorded", "attempt=%d error=\"%s\" cause=\"%s\"", attempt,
			 one_line(err.message, e2, sizeof(e2), true), e);
		return true;
	}
	if (!PQgetisnull(res, 0, 0) && strcmp(PQgetvalue(res, 0, 0), "failed") == 0)
		dlog(run_id, "delivery_failed", "attempt=%d final=true error=\"%s\"", attempt, e);
	else
		dlog(run_id, "delivery_attempt_failed", "attempt=%d retry_in=%.0fs error=\"%s\"", attempt, delay, e);
	PQclear(res);
	return true;
}

static void
time_rules(daemon_state *d)
{
	PGresult   *res;
	report_error err;
	char		e[1024];
	q_status	st;

	if (d->cfg->time_rules_seconds <= 0 || now_s() < d->next_rules)
		return;
	d->next_rules = now_s() + d->cfg->time_rules_seconds;
	st = queue_exec(&d->q, "SELECT medcrm.run_time_rules()", 0, NULL, &res, &err);
	if (st == Q_OK)
	{
		dlog(0, "time_rules", "tasks=%s", PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	else if (st == Q_LOST)
	{
		/* again as soon as the connection is back */
		d->next_rules = now_s();
		dlog(0, "db_lost", "error=\"%s\"", one_line(err.message, e, sizeof(e), true));
	}
	else
	{
		d->failures++;
		dlog(0, "time_rules_failed", "error=\"%s\"", one_line(err.message, e, sizeof(e), true));
	}
}

/* Seconds until something is due, or -1 when nothing waits. */
static double
due_in(daemon_state *d)
{
	const char *params[1] = {d->cfg->smtp_url ? "true" : "false"};
	PGresult   *res;
	report_error err;
	double		s = -1;

	if (queue_exec(&d->q, "SELECT medcrm.report_due_in($1)", 1, params, &res, &err) != Q_OK)
		return -1;
	if (!PQgetisnull(res, 0, 0))
		s = atof(PQgetvalue(res, 0, 0));
	PQclear(res);
	return s;
}

static bool
prepare_outbox(daemon_state *d, report_error *err)
{
	struct stat st;

	if (d->cfg->outbox == NULL)
	{
		set_error(err, "no outbox directory");
		set_hint(err, "Give --outbox DIR or \"outbox\" in --config: finished workbooks land there.");
		return false;
	}
	if (stat(d->cfg->outbox, &st) != 0 || !S_ISDIR(st.st_mode))
	{
		set_error(err, "outbox \"%s\" is not a directory", d->cfg->outbox);
		set_hint(err, "Create it (mkdir -p %s) with write access for the daemon's user.", d->cfg->outbox);
		return false;
	}
	if (access(d->cfg->outbox, W_OK | X_OK) != 0)
	{
		set_error(err, "outbox \"%s\" is not writable", d->cfg->outbox);
		set_hint(err, "Give the daemon's user write access to it.");
		return false;
	}
	if (realpath(d->cfg->outbox, d->outbox_real) == NULL)
	{
		set_error(err, "could not resolve the outbox \"%s\": %s", d->cfg->outbox, strerror(errno));
		return false;
	}
	snprintf(d->staging, sizeof(d->staging), "%s/%s", d->cfg->outbox, STAGING_DIR);
	if (mkdir(d->staging, 0755) != 0 && errno != EEXIST)
	{
		set_error(err, "could not create \"%s\": %s", d->staging, strerror(errno));
		return false;
	}
	return true;
}

/*
 * host:pid:64 random bits (hex). Containers often share a hostname and run
 * the daemon as PID 1, so the random part alone must keep two daemons apart.
 */
static void
worker_name(daemon_state *d)
{
	uint64_t	r = 0;
	size_t		got = 0;

	if (gethostname(d->host, sizeof(d->host) - 1) != 0)
		strcpy(d->host, "localhost");
	d->host[sizeof(d->host) - 1] = '\0';
	while (got < sizeof(r))
	{
		ssize_t		n = getrandom((char *) &r + got, sizeof(r) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
		{
			/* no getrandom(): the kernel is older than 3.17; /dev/urandom then */
			FILE	   *f = fopen("/dev/urandom", "rb");

			if (f == NULL || fread(&r, sizeof(r), 1, f) != 1)
			{
				fprintf(stderr, "medcrm-report: could not read random bytes for the worker name: %s\n",
						strerror(errno));
				exit(EXIT_FAILURE_);
			}
			fclose(f);
			break;
		}
		got += (size_t) n;
	}
	snprintf(d->worker, sizeof(d->worker), "%s:%d:%016llx", d->host, (int) getpid(),
			 (unsigned long long) r);
}

int
daemon_main(const report_config *cfg, bool once)
{
	daemon_state d;
	struct sigaction sa;
	report_error err;

	memset(&d, 0, sizeof(d));
	d.cfg = cfg;
	d.once = once;
	d.q.conninfo = cfg->dbname;
	if (!prepare_outbox(&d, &err))
	{
		print_error(&err);
		return EXIT_USAGE;
	}
	worker_name(&d);
	if (pipe(wake_pipe) != 0 ||
		fcntl(wake_pipe[1], F_SETFL, O_NONBLOCK) != 0 ||
		fcntl(wake_pipe[0], F_SETFD, FD_CLOEXEC) != 0 ||
		fcntl(wake_pipe[1], F_SETFD, FD_CLOEXEC) != 0)
	{
		set_error(&err, "could not create a pipe: %s", strerror(errno));
		print_error(&err);
		return EXIT_FAILURE_;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;			/* no SA_RESTART; the waits poll wake_pipe as well */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	d.next_rules = now_s();

	dlog(0, "started", "worker=%s outbox=%s mode=%s lease=%ds poll=%ds retry=%ds..%ds smtp=%s%s",
		 d.worker, cfg->outbox, once ? "once" : "daemon", cfg->lease_seconds, cfg->poll_seconds,
		 cfg->retry_base_seconds, cfg->retry_max_seconds, smtp_display_url(cfg),
		 cfg->smtp_url && cfg->smtp_starttls ? "+starttls" : "");
	for (;;)
	{
		double		due;
		int			wait_ms;

		if (stop_signal)
			break;
		if (!ensure_connected(&d, true, d.once ? 3 : 0))
		{
			if (stop_signal)
				break;
			dlog(0, "stopped", "reason=\"database unavailable\"");
			queue_close(&d.q);
			curl_global_cleanup();
			return EXIT_FAILURE_;
		}
		time_rules(&d);
		if (now_s() >= d.next_sweep)
			sweep_staging(&d);
		if (process_run(&d))
			continue;
		if (!queue_alive(&d.q))
			continue;
		if (cfg->smtp_url && process_delivery(&d))
			continue;
		if (!queue_alive(&d.q))
			continue;
		if (once)
			break;
		due = due_in(&d);
		wait_ms = cfg->poll_seconds * 1000;
		if (due >= 0 && due * 1000 + 20 < wait_ms)
			wait_ms = (int) (due * 1000) + 20;
		if (cfg->time_rules_seconds > 0)
		{
			int			rules_ms = (int) ((d.next_rules - now_s()) * 1000) + 1;

			if (rules_ms < wait_ms)
				wait_ms = rules_ms;
		}
		/* something due that another daemon holds locked right now: look again soon */
		if (wait_ms < 200)
			wait_ms = 200;
		if (queue_wait(&d.q, wait_ms, wake_pipe[0]) < 0)
			dlog(0, "db_lost", "error=\"connection closed while waiting\"");
	}
	dlog(0, "stopped", "reason=\"%s\"", stop_signal == SIGTERM ? "SIGTERM" :
		 stop_signal == SIGINT ? "SIGINT" : "queue empty");
	queue_close(&d.q);
	curl_global_cleanup();
	if (once && d.failures > 0)
		return EXIT_FAILURE_;
	return EXIT_OK;
}

int
daemon_check(const report_config *cfg)
{
	daemon_state d;
	report_error err;
	bool		ok = true;
	static const char *const reports[] = {"kpi", "compliance"};

	memset(&d, 0, sizeof(d));
	d.cfg = cfg;
	d.q.conninfo = cfg->dbname;
	if (prepare_outbox(&d, &err))
		printf("ok - outbox %s is a writable directory\n", cfg->outbox);
	else
	{
		print_error(&err);
		ok = false;
	}
	for (size_t i = 0; i < sizeof(reports) / sizeof(reports[0]); i++)
	{
		char	   *file = find_layout(cfg->layouts, reports[i]);
		layout	   *l = layout_load(file, &err);

		if (l)
			printf("ok - layout %s\n", file);
		else
		{
			print_error(&err);
			ok = false;
		}
		layout_free(l);
		free(file);
	}
	if (queue_connect(&d.q, &err))
	{
		PGresult   *res;
		const char *params[1] = {cfg->time_rules_seconds > 0 ? "true" : "false"};

		if (queue_exec(&d.q,
					   "WITH s AS (SELECT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'medcrm' "
					   "AND pg_catalog.has_schema_privilege(oid, 'USAGE')) AS usable) "
					   "SELECT pg_catalog.current_database(), current_user, "
					   "CASE WHEN s.usable THEN pg_catalog.to_regprocedure('medcrm.report_claim(text,integer)') IS NOT NULL "
					   "AND pg_catalog.has_function_privilege('medcrm.report_claim(text,integer)', 'EXECUTE') ELSE false END, "
					   "NOT $1::boolean OR CASE WHEN s.usable THEN "
					   "pg_catalog.to_regprocedure('medcrm.run_time_rules(timestamptz)') IS NOT NULL "
					   "AND pg_catalog.has_function_privilege('medcrm.run_time_rules(timestamptz)', 'EXECUTE') ELSE false END "
					   "FROM s",
					   1, params, &res, &err) != Q_OK)
		{
			print_error(&err);
			ok = false;
		}
		else
		{
			printf("ok - connected to database %s as %s\n", PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
			if (strcmp(PQgetvalue(res, 0, 2), "t") != 0)
			{
				set_error(&err, "role %s may not run the report queue (medcrm.report_claim)", PQgetvalue(res, 0, 1));
				set_hint(&err, "CREATE EXTENSION medcrm in this database and GRANT medcrm_reporter TO %s.", PQgetvalue(res, 0, 1));
				print_error(&err);
				ok = false;
			}
			else
				printf("ok - role %s may claim report runs\n", PQgetvalue(res, 0, 1));
			if (strcmp(PQgetvalue(res, 0, 3), "t") != 0)
			{
				set_error(&err, "\"time_rules_seconds\" is set but role %s may not run medcrm.run_time_rules()", PQgetvalue(res, 0, 1));
				set_hint(&err, "GRANT medcrm_reporter TO %s, or set \"time_rules_seconds\": 0.", PQgetvalue(res, 0, 1));
				print_error(&err);
				ok = false;
			}
			PQclear(res);
		}
		queue_close(&d.q);
	}
	else
	{
		print_error(&err);
		ok = false;
	}
	if (cfg->smtp_url)
		printf("ok - e-mail through %s%s as %s%s\n", cfg->smtp_url,
			   cfg->smtp_starttls ? " with STARTTLS" : "", cfg->smtp_from,
			   cfg->smtp_username ? ", with login (password not shown)" : "");
	else
		printf("ok - no \"smtp\": workbooks only land in the outbox\n");
	return ok ? EXIT_OK : EXIT_USAGE;
}
