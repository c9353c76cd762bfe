/*
 * main.c — command line of medcrm-report, the medcrm report worker.
 *
 * medcrm-report connects to a medcrm database through libpq and writes the KPI
 * and compliance workbooks, once (run) or as the scheduled-report daemon
 * (daemon). This file only parses the command line, finds the layout and
 * dispatches; each capability lives in its own file beside it: config.c
 * (--config), layout.c (reports/NAME.json), period.c (dates), db.c (libpq),
 * engine.c (the workbook), atomic.c (safe output), cell.c (values into
 * cells), daemon.c (the daemon), queue.c (its queue connection), smtp.c
 * (e-mail), backoff.c (retry delays).
 *
 * Exit codes: 0 success, 1 failure, 2 usage or configuration error.
 */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "db.h"
#include "engine.h"
#include "layout.h"
#include "period.h"
#include "util.h"

#ifndef MEDCRM_LAYOUT_REL
#define MEDCRM_LAYOUT_REL "../share/medcrm/reports"
#endif

static void
help(void)
{
	printf("%s writes medcrm's KPI and compliance workbooks.\n\n", PROGRAM);
	printf("Usage:\n");
	printf("  %s run kpi|compliance [OPTION]...\n", PROGRAM);
	printf("  %s daemon [--once] [--outbox DIR] [--check] [OPTION]...\n", PROGRAM);
	printf("\nOptions:\n");
	printf("      --from=DATE        first day of the period (default: first day of last month)\n");
	printf("      --to=DATE          day after the last day of the period, exclusive\n");
	printf("                         (default: first day of this month)\n");
	printf("  -o, --output=FILE      workbook to write (default: REPORT-YYYY-MM.xlsx)\n");
	printf("  -d, --dbname=CONNINFO  database to read (default: PG* environment)\n");
	printf("      --config=FILE      JSON settings: dbname, layouts, tmpdir, fetch_rows;\n");
	printf("                         daemon: outbox, poll, lease, retries, smtp\n");
	printf("      --layout=FILE      use this layout instead of the installed REPORT.json\n");
	printf("      --outbox=DIR       daemon: where finished workbooks land\n");
	printf("      --once             daemon: do what is due now, then exit (cron, timers)\n");
	printf("      --check            daemon: check the config, outbox, layouts and\n");
	printf("                         database, then exit 0 (fine) or 2\n");
	printf("  -V, --version          print the version and exit\n");
	printf("  -?, --help             show this help and exit\n");
	printf("\nDates are YYYY-MM-DD. The workbook is written to a temporary file beside\n");
	printf("FILE and renamed into place when complete; progress is shown on stderr\n");
	printf("when it is a terminal.\n");
	printf("\nThe daemon runs the due report_schedule periods and the runs queued by\n");
	printf("medcrm.request_report(), publishes them into the outbox and e-mails them\n");
	printf("when \"smtp\" is configured; several daemons may share one database.\n");
	printf("It stops on SIGTERM (exit 0); see docs/reports.md.\n");
	printf("\nExit status: 0 success, 1 failure, 2 usage or configuration error.\n");
}

static int
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", PROGRAM);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry \"%s --help\" for more information.\n", PROGRAM);
	return EXIT_USAGE;
}

/* The installed layout directory, found relative to this program. */
char *
find_layout(const char *dir_option, const char *report)
{
	char		exe[PATH_MAX];
	char		path[PATH_MAX * 2];
	ssize_t		n;

	if (dir_option)
	{
		snprintf(path, sizeof(path), "%s/%s.json", dir_option, report);
		return xstrdup(path);
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0)
	{
		const char *candidates[] = {MEDCRM_LAYOUT_REL, "../reports", NULL};

		exe[n] = '\0';
		for (int i = 0; candidates[i]; i++)
		{
			snprintf(path, sizeof(path), "%s/%s/%s.json", dirname(exe), candidates[i], report);
			if (access(path, R_OK) == 0)
				return xstrdup(path);
			exe[n] = '\0';		/* dirname() may have written into exe */
		}
	}
	snprintf(path, sizeof(path), "%s/%s.json", MEDCRM_LAYOUT_REL, report);
	return xstrdup(path);
}

static bool
valid_report_name(const char *s)
{
	if (*s == '\0' || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"from", required_argument, NULL, 'f'},
		{"to", required_argument, NULL, 't'},
		{"output", required_argument, NULL, 'o'},
		{"dbname", required_argument, NULL, 'd'},
		{"config", required_argument, NULL, 'c'},
		{"layout", required_argument, NULL, 'l'},
		{"outbox", required_argument, NULL, 'b'},
		{"once", no_argument, NULL, '1'},
		{"check", no_argument, NULL, 'k'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, '?'},
		{NULL, 0, NULL, 0}
	};
	const char *from_arg = NULL,
			   *to_arg = NULL,
			   *output = NULL,
			   *dbname = NULL,
			   *config_path = NULL,
			   *layout_path = NULL,
			   *outbox = NULL;
	bool		once = false,
				check = false;
	report_config cfg;
	report_error err = {{0}, {0}};
	report_period period;
	layout	   *l;
	PGconn	   *conn;
	engine_options opt;
	char	   *layout_file;
	char		default_output[128];
	const char *report;
	int			c,
				rc;

	/* --help and --version work anywhere on the line */
	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-?") == 0)
		{
			help();
			return EXIT_OK;
		}
		if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0)
		{
			printf("%s (medcrm) %s\n", PROGRAM, MEDCRM_VERSION);
			return EXIT_OK;
		}
	}
	while ((c = getopt_long(argc, argv, "o:d:V?", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'f':
				from_arg = optarg;
				break;
			case 't':
				to_arg = optarg;
				break;
			case 'o':
				output = optarg;
				break;
			case 'd':
				dbname = optarg;
				break;
			case 'c':
				config_path = optarg;
				break;
			case 'l':
				layout_path = optarg;
				break;
			case 'b':
				outbox = optarg;
				break;
			case '1':
				once = true;
				break;
			case 'k':
				check = true;
				break;
			default:
				fprintf(stderr, "Try \"%s --help\" for more information.\n", PROGRAM);
				return EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return usage_error("no command given%s", "");
	if (strcmp(argv[optind], "daemon") == 0)
	{
		if (optind + 1 < argc)
			return usage_error("too many arguments, starting with \"%s\"", argv[optind + 1]);
		if (from_arg || to_arg || output || layout_path)
			return usage_error("daemon: %s", "--from, --to, --output and --layout belong to \"run\"");
		if (once && check)
			return usage_error("daemon: %s", "--once and --check exclude each other");
		if (!config_load(config_path, &cfg, &err))
		{
			print_error(&err);
			return EXIT_USAGE;
		}
		if (dbname)
		{
			free(cfg.dbname);
			cfg.dbname = xstrdup(dbname);
		}
		if (outbox)
		{
			free(cfg.outbox);
			cfg.outbox = xstrdup(outbox);
		}
		rc = check ? daemon_check(&cfg) : daemon_main(&cfg, once);
		config_free(&cfg);
		return rc;
	}
	if (once || check || outbox)
		return usage_error("--once, --check and --outbox belong to \"daemon\"%s", "");
	if (strcmp(argv[optind], "run") != 0)
		return usage_error("unknown command \"%s\" (the commands are: run, daemon)", argv[optind]);
	if (optind + 1 >= argc)
		return usage_error("run: no report given (kpi or compliance)%s", "");
	report = argv[optind + 1];
	if (optind + 2 < argc)
		return usage_error("too many arguments, starting with \"%s\"", argv[optind + 2]);
	if (!valid_report_name(report))
		return usage_error("invalid report name \"%s\" (kpi or compliance)", report);

	/* the period */
	{
		time_t		now = time(NULL);
		struct tm	tm;
		report_date today;

		localtime_r(&now, &tm);
		today.year = tm.tm_year + 1900;
		today.month = tm.tm_mon + 1;
		today.day = tm.tm_mday;
		period = period_last_full_month(today);
	}
	if (from_arg && !date_parse(from_arg, &period.from))
		return usage_error("invalid --from date \"%s\" (use YYYY-MM-DD)", from_arg);
	if (to_arg && !date_parse(to_arg, &period.to))
		return usage_error("invalid --to date \"%s\" (use YYYY-MM-DD)", to_arg);
	if (from_arg && !to_arg)
		period.to = date_add_months(period.from, 1);
	if (to_arg && !from_arg)
		period.from = date_add_months(period.to, -1);
	if (date_cmp(period.from, period.to) >= 0)
	{
		fprintf(stderr, "%s: the period is empty: --from must be before --to\n", PROGRAM);
		fprintf(stderr, "HINT: --to is exclusive: for October 2026 give --from 2026-10-01 --to 2026-11-01.\n");
		return EXIT_USAGE;
	}

	if (!config_load(config_path, &cfg, &err))
	{
		print_error(&err);
		return EXIT_USAGE;
	}
	layout_file = layout_path ? xstrdup(layout_path) : find_layout(cfg.layouts, report);
	l = layout_load(layout_file, &err);
	if (l == NULL)
	{
		if (!layout_path && access(layout_file, F_OK) != 0)
		{
			set_error(&err, "unknown report \"%s\": no layout %s", report, layout_file);
			set_hint(&err, "The reports are kpi and compliance; set \"layouts\" in --config or give --layout FILE for another one.");
		}
		print_error(&err);
		free(layout_file);
		config_free(&cfg);
		return EXIT_USAGE;
	}
	free(layout_file);

	if (output == NULL)
	{
		char		tag[32];

		period_file_tag(period, tag, sizeof(tag));
		snprintf(default_output, sizeof(default_output), "%s-%s.xlsx", report, tag);
		output = default_output;
	}

	conn = db_connect(dbname ? dbname : cfg.dbname, &err);
	if (conn == NULL)
	{
		print_error(&err);
		layout_free(l);
		config_free(&cfg);
		return EXIT_FAILURE_;
	}
	memset(&opt, 0, sizeof(opt));
	opt.output = output;
	opt.tmpdir = cfg.tmpdir;
	opt.fetch_rows = cfg.fetch_rows;
	opt.progress = isatty(STDERR_FILENO);
	opt.period = period;
	rc = engine_run(conn, l, &opt, &err);
	if (rc != EXIT_OK)
		print_error(&err);
	db_disconnect(conn);
	layout_free(l);
	config_free(&cfg);
	return rc;
}
