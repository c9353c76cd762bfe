/*
 * period.h — calendar arithmetic of report periods (pure C, no I/O).
 *
 * A report period is a half-open range of dates [from, to), as in medcrm's KPI
 * definitions and in report_run (period_to is exclusive).
 */
#ifndef MEDCRM_REPORT_PERIOD_H
#define MEDCRM_REPORT_PERIOD_H

#include <stdbool.h>

typedef struct report_date
{
	int			year;
	int			month;			/* 1..12 */
	int			day;			/* 1..31 */
} report_date;

typedef struct report_period
{
	report_date from;			/* first day */
	report_date to;				/* day after the last day */
} report_period;

/* "YYYY-MM-DD" → date; false when malformed or not a calendar date. */
extern bool date_parse(const char *s, report_date *out);
/* date → "YYYY-MM-DD" (buf needs 11 bytes). */
extern void date_format(report_date d, char *buf);
/* Days since 1970-01-01 and back. */
extern long date_to_days(report_date d);
extern report_date date_from_days(long days);
extern report_date date_add_months(report_date d, int months);
extern int	date_cmp(report_date a, report_date b);

/* The last full calendar month before the month of today. */
extern report_period period_last_full_month(report_date today);
/*
 * The period just before p, of the same length: whole months when p runs from
 * the first of a month to the first of a month, otherwise the same number of
 * days.
 */
extern report_period period_previous(report_period p);
/* "1 Oct 2026 – 31 Oct 2026" (buf needs 64 bytes). */
extern void period_label(report_period p, char *buf, int buflen);

/*
 * The period in file names: "2026-10" for one calendar month, otherwise
 * "2026-11-16_2026-11-23" (to exclusive). buf needs 32 bytes.
 */
extern void period_file_tag(report_period p, char *buf, int buflen);

#endif
