/*
 * unit_tests.c — unit tests of medcrm-report's pure parts: dates and periods,
 * value conversion, layout and config validation, the daemon's retry
 * backoff and its settings (outbox, lease, SMTP). Built and run by
 * test/worker/unit.sh (make -C workers unit); prints TAP and exits non-zero
 * on any failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "backoff.h"
#include "cell.h"
#include "config.h"
#include "layout.h"
#include "period.h"

static int	tests = 0;
static int	failures = 0;

static void
ok(int cond, const char *what)
{
	tests++;
	if (!cond)
		failures++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tests, what);
}

static void
is_str(const char *got, const char *want, const char *what)
{
	int			same = got && strcmp(got, want) == 0;

	ok(same, what);
	if (!same)
		printf("#   got: \"%s\"\n#  want: \"%s\"\n", got ? got : "(null)", want);
}

static report_date
d(const char *s)
{
	report_date r = {0, 0, 0};

	if (!date_parse(s, &r))
		printf("# bad test date %s\n", s);
	return r;
}

static const char *
fmt(report_date x)
{
	static char buf[4][11];
	static int	i = 0;

	i = (i + 1) % 4;
	date_format(x, buf[i]);
	return buf[i];
}

static void
test_periods(void)
{
	report_date x;
	report_period p,
				q;
	char		label[64];

	ok(date_parse("2024-02-29", &x), "2024-02-29 is a date");
	ok(!date_parse("2023-02-29", &x), "2023-02-29 is not");
	ok(!date_parse("2026-13-01", &x), "month 13 refused");
	ok(!date_parse("2026-1-01", &x), "short form refused");
	ok(!date_parse("2026-01-01x", &x), "trailing text refused");
	ok(!date_parse("'; DROP", &x), "garbage refused");
	is_str(fmt(date_from_days(date_to_days(d("2026-03-01")) - 1)), "2026-02-28", "day before 1 March 2026");
	is_str(fmt(date_from_days(date_to_days(d("2024-03-01")) - 1)), "2024-02-29", "day before 1 March 2024 (leap)");
	ok(date_to_days(d("1970-01-01")) == 0, "epoch is day 0");
	is_str(fmt(date_add_months(d("2026-01-31"), 1)), "2026-02-28", "31 Jan + 1 month clamps");

	p = period_last_full_month(d("2026-11-23"));
	is_str(fmt(p.from), "2026-10-01", "last full month from");
	is_str(fmt(p.to), "2026-11-01", "last full month to (exclusive)");
	p = period_last_full_month(d("2027-01-01"));
	is_str(fmt(p.from), "2026-12-01", "last full month across a year");
	is_str(fmt(p.to), "2027-01-01", "… to 1 January");

	p.from = d("2026-03-01");
	p.to = d("2026-04-01");
	q = period_previous(p);
	is_str(fmt(q.from), "2026-02-01", "month before March is February");
	is_str(fmt(q.to), "2026-03-01", "… ending where March begins");
	p.from = d("2026-01-01");
	p.to = d("2026-04-01");
	q = period_previous(p);
	is_str(fmt(q.from), "2025-10-01", "quarter before Q1 is Q4");
	p.from = d("2026-03-10");
	p.to = d("2026-03-17");
	q = period_previous(p);
	is_str(fmt(q.from), "2026-03-03", "week before is 7 days earlier");
	is_str(fmt(q.to), "2026-03-10", "… ending where it begins");

	p.from = d("2026-10-01");
	p.to = d("2026-11-01");
	period_label(p, label, sizeof(label));
	is_str(label, "1 Oct 2026 \xe2\x80\x93 31 Oct 2026", "period label shows the last day");
}

static void
test_cells(void)
{
	double		v;
	cell_datetime dt;
	char		buf[256];

	ok(cell_kind_for_type(1700) == CELL_NUMBER, "numeric is a number");
	ok(cell_kind_for_type(20) == CELL_NUMBER, "bigint is a number");
	ok(cell_kind_for_type(1184) == CELL_DATETIME, "timestamptz is a datetime");
	ok(cell_kind_for_type(1082) == CELL_DATE, "date is a date");
	ok(cell_kind_for_type(1009) == CELL_ARRAY, "text[] is an array");
	ok(cell_kind_for_type(25) == CELL_STRING, "text is a string");
	ok(cell_kind_for_type(3802) == CELL_STRING, "jsonb is a string");
	ok(cell_parse_number("-12.50", &v) && v == -12.5, "-12.50 parses");
	ok(cell_parse_number("1e3", &v) && v == 1000, "1e3 parses");
	ok(!cell_parse_number("NaN", &v), "NaN stays text");
	ok(!cell_parse_number("Infinity", &v), "Infinity stays text");
	ok(!cell_parse_number("-Infinity", &v), "-Infinity stays text");
	ok(!cell_parse_number("12abc", &v), "12abc is not a number");
	ok(!cell_parse_number("", &v), "empty is not a number");
	ok(cell_parse_datetime("2026-10-05", &dt) && dt.year == 2026 && dt.month == 10 && dt.day == 5 && dt.hour == 0,
	   "date parses");
	ok(cell_parse_datetime("2026-10-05 08:30:15.25+02", &dt) && dt.hour == 8 && dt.min == 30 &&
	   dt.sec > 15.24 && dt.sec < 15.26, "timestamptz with fraction and zone parses");
	ok(cell_parse_datetime("2026-10-05 08:30:15-05:30", &dt) && dt.hour == 8, "negative zone with minutes");
	ok(!cell_parse_datetime("infinity", &dt), "infinity stays text");
	ok(!cell_parse_datetime("0044-03-15 BC", &dt), "BC stays text");
	ok(!cell_parse_datetime("1899-12-31", &dt), "before Excel's epoch stays text");
	ok(cell_format_array("{renewal_due,\"payment late, 75 days\",NULL}", buf, sizeof(buf)), "array literal parses");
	is_str(buf, "renewal_due; payment late, 75 days", "array as readable text, NULL left out");
	ok(cell_format_array("{\"a \\\"quoted\\\" b\"}", buf, sizeof(buf)), "escaped quote parses");
	is_str(buf, "a \"quoted\" b", "escaped quote kept");
	ok(cell_format_array("{}", buf, sizeof(buf)) && buf[0] == '\0', "empty array is empty text");
	ok(!cell_format_array("not an array", buf, sizeof(buf)), "non-array refused");
}

/* Parse a layout text; return the error message ("" when it parsed). */
static const char *
layout_error(const char *text)
{
	static report_error err;
	layout	   *l;

	memset(&err, 0, sizeof(err));
	l = layout_parse("t.json", text, &err);
	if (l)
	{
		layout_free(l);
		return "";
	}
	return err.message;
}

#define SHEET(extra) "{\"report\":\"t\",\"title\":\"T\",\"sheets\":[{\"name\":\"S\",\"sql\":\"SELECT 1, 2\"," extra "}]}"
#define COLS "\"columns\":[{\"header\":\"A\"},{\"header\":\"B\",\"format\":\"percent\"}]"

static void
test_layouts(void)
{
	report_error err;
	layout	   *l;

	l = layout_parse("t.json", SHEET(COLS ",\"charts\":[{\"type\":\"pie\",\"title\":\"P\",\"categories\":\"A\",\"series\":[\"B\"]}]"), &err);
	ok(l != NULL && l->nsheets == 1 && l->sheets[0].ncolumns == 2 &&
	   l->sheets[0].columns[1].format == FMT_PERCENT && l->sheets[0].charts[0].series[0] == 1,
	   "a valid layout parses");
	layout_free(l);
	l = layout_parse("t.json", "{\"report\":\"t\",\"title\":\"T\",\"sheets\":[{\"name\":\"S\",\"sql\":[\"SELECT 1\",\"  FROM x\"]}]}", &err);
	is_str(l ? l->sheets[0].sql : NULL, "SELECT 1\n  FROM x\n", "sql as an array of lines");
	layout_free(l);

	is_str(layout_error("{\"report\":\"t\",\n \"title\": \"T\"\n \"sheets\": []}"),
		   "t.json: line 3, column 2: JSON syntax error", "syntax error names line and column");
	is_str(layout_error(SHEET("\"widht\":3")), "t.json: sheets[0]: unknown key \"widht\"", "unknown key named with its place");
	is_str(layout_error(SHEET("\"columns\":[{\"header\":\"A\",\"format\":\"percnt\"}]")),
		   "t.json: sheets[0].columns[0].format: unknown format \"percnt\"", "unknown format");
	is_str(layout_error(SHEET("\"columns\":[{\"header\":\"A\",\"width\":\"wide\"}]")),
		   "t.json: sheets[0].columns[0].width: expected a number", "wrong type");
	is_str(layout_error("{\"report\":\"t\",\"title\":\"T\",\"sheets\":[{\"name\":\"S\"}]}"),
		   "t.json: sheets[0]: missing required key \"sql\"", "missing query");
	is_str(layout_error(SHEET(COLS ",\"charts\":[{\"type\":\"pie\",\"title\":\"P\",\"categories\":\"A\",\"series\":[\"C\"]}]")),
		   "t.json: sheets[0].charts[0].series[0]: no column with header \"C\"", "chart series must name a column");
	is_str(layout_error(SHEET(COLS ",\"charts\":[{\"type\":\"radar\",\"title\":\"P\",\"categories\":\"A\",\"series\":[\"B\"]}]")),
		   "t.json: sheets[0].charts[0].type: unknown chart type \"radar\"", "unknown chart type");
	is_str(layout_error(SHEET(COLS ",\"conditional\":[{\"column\":\"B\",\"type\":\"equals\",\"value\":\"x\",\"style\":\"red\"}]")),
		   "t.json: sheets[0].conditional[0].style: unknown style \"red\"", "unknown conditional style");
	is_str(layout_error("{\"report\":\"t\",\"title\":\"T\",\"sheets\":[{\"name\":\"A/B\",\"sql\":\"x\"}]}"),
		   "t.json: sheets[0].name: invalid sheet name \"A/B\"", "Excel's sheet-name rules");
	is_str(layout_error("{\"report\":\"t\",\"title\":\"T\",\"sheets\":[{\"name\":\"A\",\"sql\":\"x\"},{\"name\":\"a\",\"sql\":\"y\"}]}"),
		   "t.json: sheets[1].name: duplicate sheet name \"a\"", "duplicate sheet names (any case)");
	is_str(layout_error(SHEET("\"requires\":[\"v_x\"]")),
		   "t.json: sheets[0].requires[0]: name \"v_x\" is not schema-qualified", "requires must be schema-qualified");
	is_str(layout_error(SHEET("\"columns\":[{\"header\":\"A\",\"format\":\"by_row\"}]")),
		   "t.json: sheets[0].columns[0].format: format \"by_row\" needs a row_format column", "by_row needs its column");
	is_str(layout_error("[]"), "t.json: top level: expected an object", "top level must be an object");
	layout_error(SHEET("\"widht\":3"));
	memset(&err, 0, sizeof(err));
	l = layout_parse("t.json", SHEET("\"widht\":3"), &err);
	ok(l == NULL && strstr(err.hint, "Allowed keys here: name,") != NULL, "the hint lists the allowed keys");
}

static void
test_config(void)
{
	report_config cfg;
	report_error err;

	memset(&cfg, 0, sizeof(cfg));
	ok(config_parse("c.json", "{\"dbname\":\"service=x\",\"fetch_rows\":1000}", &cfg, &err) &&
	   strcmp(cfg.dbname, "service=x") == 0 && cfg.fetch_rows == 1000, "a valid config parses");
	config_free(&cfg);
	ok(!config_parse("c.json", "{\"db\":\"x\"}", &cfg, &err), "unknown config key refused");
	is_str(err.message, "c.json: unknown key \"db\"", "… naming file and key");
	ok(!config_parse("c.json", "{\"fetch_rows\":\"many\"}", &cfg, &err), "wrong config type refused");
	config_free(&cfg);
	ok(!config_parse("c.json", "{\"fetch_rows\":10}", &cfg, &err), "fetch_rows out of range refused");
	config_free(&cfg);
}

static void
is_num(double got, double want, const char *what)
{
	ok(got == want, what);
	if (got != want)
		printf("#   got: %g\n#  want: %g\n", got, want);
}

static void
test_backoff(void)
{
	is_num(backoff_delay(1, 60, 3600), 60, "backoff: first retry after base");
	is_num(backoff_delay(2, 60, 3600), 120, "backoff: second retry after 2 x base");
	is_num(backoff_delay(4, 60, 3600), 480, "backoff: fourth retry after 8 x base");
	is_num(backoff_delay(7, 60, 3600), 3600, "backoff: 64 x base is capped at 3600");
	is_num(backoff_delay(1000, 60, 3600), 3600, "backoff: any later retry stays at the cap");
	is_num(backoff_delay(1, 0.5, 30), 0.5, "backoff: reconnect starts at 0.5 s");
	is_num(backoff_delay(7, 0.5, 30), 30, "backoff: reconnect capped at 30 s (not 32)");
	is_num(backoff_delay(0, 60, 3600), 0, "backoff: attempt 0 means no delay");
	is_num(backoff_delay(3, 0, 3600), 0, "backoff: base 0 retries at once");
}

static void
test_daemon_config(void)
{
	report_config cfg;
	report_error err;

	config_defaults(&cfg);
	ok(cfg.poll_seconds == 60 && cfg.lease_seconds == 300 && cfg.retry_base_seconds == 60 &&
	   cfg.retry_max_seconds == 3600 && cfg.time_rules_seconds == 0 && cfg.smtp_url == NULL &&
	   cfg.smtp_timeout_seconds == 60, "daemon defaults: poll 60, lease 300, retry 60..3600, no smtp");
	ok(config_parse("d.json",
					"{\"outbox\": \"/srv/out\", \"lease_seconds\": 30, \"poll_seconds\": 5,"
					" \"retry_base_seconds\": 10, \"retry_max_seconds\": 600, \"time_rules_seconds\": 86400,"
					" \"smtp\": {\"url\": \"smtp://mail.example.com:587\", \"starttls\": true,"
					" \"from\": \"reports@example.com\", \"username\": \"r\", \"password\": \"p\","
					" \"timeout_seconds\": 20}}", &cfg, &err), "a full daemon config parses");
	ok(strcmp(cfg.outbox, "/srv/out") == 0 && cfg.lease_seconds == 30 && cfg.poll_seconds == 5 &&
	   cfg.retry_base_seconds == 10 && cfg.retry_max_seconds == 600 && cfg.time_rules_seconds == 86400,
	   "… with its outbox, lease, poll, retry and time-rules settings");
	ok(strcmp(cfg.smtp_url, "smtp://mail.example.com:587") == 0 && cfg.smtp_starttls &&
	   strcmp(cfg.smtp_from, "reports@example.com") == 0 && strcmp(cfg.smtp_username, "r") == 0 &&
	   strcmp(cfg.smtp_password, "p") == 0 && cfg.smtp_timeout_seconds == 20, "… and its smtp object");
	ok(config_check_mode("d.json", S_IFREG | 0600, &cfg, &err), "mode 0600 with a password is accepted");
	ok(!config_check_mode("d.json", S_IFREG | 0640, &cfg, &err), "mode 0640 with a password is refused");
	is_str(err.message, "d.json: holds the SMTP password but is accessible by group or others (mode 0640)",
		   "… naming the file and its mode");
	ok(!config_check_mode("d.json", S_IFREG | 0604, &cfg, &err), "mode 0604 with a password is refused");
	config_free(&cfg);
	config_defaults(&cfg);
	ok(config_check_mode("d.json", S_IFREG | 0644, &cfg, &err), "mode 0644 without a password is fine");

	ok(!config_parse("d.json", "{\"lease_seconds\": 1}", &cfg, &err), "lease_seconds 1 refused");
	is_str(err.message, "d.json: \"lease_seconds\": expected a whole number from 2 to 86400", "… with its range");
	config_free(&cfg);
	config_defaults(&cfg);
	ok(!config_parse("d.json", "{\"retry_base_seconds\": 600, \"retry_max_seconds\": 60}", &cfg, &err),
	   "a cap below the first delay refused");
	is_str(err.message, "d.json: \"retry_max_seconds\" (60) is less than \"retry_base_seconds\" (600)", "… naming both");
	config_free(&cfg);
	config_defaults(&cfg);
	ok(!config_parse("d.json", "{\"smtp\": {\"url\": \"smtp://u:secret@mail.example.com\", \"from\": \"a@b.c\"}}", &cfg, &err),
	   "credentials in the SMTP URL refused");
	is_str(err.message, "d.json: \"smtp.url\": expected smtp://HOST[:PORT] without user or password", "… with the reason");
	ok(strstr(err.message, "secret") == NULL && strstr(err.hint, "secret") == NULL, "… without printing the password");
	config_free(&cfg);
	config_defaults(&cfg);
	ok(!config_parse("d.json", "{\"smtp\": {\"url\": \"http://mail.example.com\", \"from\": \"a@b.c\"}}", &cfg, &err),
	   "a non-SMTP URL refused");
	config_free(&cfg);

	/* credentials only over TLS */
	config_defaults(&cfg);
	ok(!config_parse("d.json", "{\"smtp\": {\"url\": \"smtp://mail.example.com:587\", \"from\": \"a@b.c\","
					 " \"username\": \"r\", \"password\": \"s3cret\"}}", &cfg, &err),
	   "a login over smtp:// without starttls refused");
	is_str(err.message, "d.json: \"smtp\": a login needs TLS, but \"url\" is smtp:// and \"starttls\" is false",
		   "… saying why");
	ok(strstr(err.hint, "\"starttls\": true") != NULL && strstr(err.hint, "smtps://") != NULL,
	   "… with both fixes in the hint");
	ok(strstr(err.message, "s3cret") == NULL && strstr(err.hint, "s3cret") == NULL, "… without printing the password");
	config_free(&cfg);
	config_defaults(&cfg);
	ok(!config_parse("d.json", "{\"smtp\": {\"url\": \"smtp://mail.example.com:587\", \"starttls\": false,"
					 " \"from\": \"a@b.c\", \"username\": \"r\", \"password\": \"p\"}}", &cfg, &err),
	   "… also with an explicit \"starttls\": false");
	config_free(&cfg);
	config_defaults(&cfg);
	ok(config_parse("d.json", "{\"smtp\": {\"url\": \"smtps://mail.example.com:465\", \"from\": \"a@b.c\","
					" \"username\": \"r\", \"password\": \"p\"}}", &cfg, &err),
	   "a login over smtps:// accepted");
	config_free(&cfg);
	config_defaults(&cfg);
	ok(config_parse("d.json", "{\"smtp\": {\"url\": \"smtp://mail.example.com:25\", \"from\": \"a@b.c\"}}", &cfg, &err),
	   "smtp:// without a login accepted");
	config_free(&cfg);

	/* secrets in dbname */
	ok(conninfo_has_password("host=db password=x dbname=crm"), "conninfo password= found");
	ok(conninfo_has_password("password = x"), "conninfo password = x found");
	ok(conninfo_has_password("postgresql://crm:pw@db/crm"), "URI user:pw@ found");
	ok(conninfo_has_password("postgres://crm:pw@db:5432/crm?sslmode=require"), "postgres:// user:pw@ found");
	ok(conninfo_has_password("postgresql://crm@db/crm?sslmode=require&password=pw"), "URI password= parameter found");
	ok(!conninfo_has_password("postgresql://crm@db/crm"), "URI without password: none");
	ok(!conninfo_has_password("postgresql://db:5432/crm"), "URI host:port is no password");
	ok(!conninfo_has_password("service=medcrm passfile=/etc/medcrm/pgpass"), "service and passfile: none");
	ok(!conninfo_has_password(NULL), "no dbname: none");
	config_defaults(&cfg);
	ok(config_parse("e.json", "{\"dbname\": \"host=db user=crm password=pw\"}", &cfg, &err),
	   "a dbname with a password parses");
	ok(!config_check_mode("e.json", S_IFREG | 0644, &cfg, &err), "… but mode 0644 is refused");
	is_str(err.message, "e.json: holds a database password (in \"dbname\") but is accessible by group or others (mode 0644)",
		   "… naming the secret");
	ok(config_check_mode("e.json", S_IFREG | 0600, &cfg, &err), "… mode 0600 accepted");
	ok(config_check_owner("e.json", 1000, 1000, &cfg, &err), "… owned by the daemon's user accepted");
	ok(config_check_owner("e.json", 0, 1000, &cfg, &err), "… owned by root accepted");
	ok(!config_check_owner("e.json", 1001, 1000, &cfg, &err), "… owned by another user refused");
	is_str(err.message, "e.json: holds a database password (in \"dbname\") but belongs to user 1001, not to the daemon's user 1000",
		   "… naming both users");
	config_free(&cfg);
	config_defaults(&cfg);
	ok(config_check_owner("f.json", 1001, 1000, &cfg, &err), "another owner is fine without a secret");
	config_defaults(&cfg);
	ok(!config_parse("d.json", "{\"smtp\": {\"url\": \"smtp://mail.example.com\"}}", &cfg, &err), "smtp without from refused");
	is_str(err.message, "d.json: \"smtp\": \"from\" is required", "… naming the missing key");
	config_free(&cfg);
	config_defaults(&cfg);
	ok(!config_parse("d.json", "{\"smtp\": {\"url\": \"smtp://m.example.com\", \"from\": \"a@b.c\", \"password\": \"p\"}}", &cfg, &err),
	   "a password without a username refused");
	config_free(&cfg);
	config_defaults(&cfg);
	ok(!config_parse("d.json", "{\"smtp\": {\"url\": \"smtp://m.example.com\", \"from\": \"a@b.c\", \"tls\": true}}", &cfg, &err),
	   "unknown smtp key refused");
	is_str(err.message, "d.json: unknown key \"smtp.tls\"", "… naming it with its object");
	config_free(&cfg);
	config_defaults(&cfg);
	ok(!config_parse("d.json", "{\"smtp\": {\"url\": \"smtp://m.example.com\", \"from\": \"a@b.c\", \"starttls\": \"yes\"}}", &cfg, &err),
	   "starttls must be a boolean");
	config_free(&cfg);
}

static void
test_file_tag(void)
{
	char		buf[32];
	report_period p;

	p.from = d("2026-10-01");
	p.to = d("2026-11-01");
	period_file_tag(p, buf, sizeof(buf));
	is_str(buf, "2026-10", "file tag of a calendar month");
	p.from = d("2026-11-16");
	p.to = d("2026-11-23");
	period_file_tag(p, buf, sizeof(buf));
	is_str(buf, "2026-11-16_2026-11-23", "file tag of a week");
}

int
main(void)
{
	test_periods();
	test_cells();
	test_layouts();
	test_config();
	test_backoff();
	test_daemon_config();
	test_file_tag();
	printf("1..%d\n", tests);
	if (failures)
		printf("# %d of %d failed\n", failures, tests);
	return failures ? 1 : 0;
}
