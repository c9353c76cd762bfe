/*
 * period.c — calendar arithmetic of report periods.
 *
 * Pure functions on proleptic Gregorian dates (the days-from-civil algorithm),
 * so that the default period and the comparison period of the Summary sheet
 * can be unit-tested without a database.
 */
#include "period.h"

#include <stdio.h>
#include <string.h>

static bool
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int y, int m)
{
	static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return (m == 2 && is_leap(y)) ? 29 : dim[m - 1];
}

bool
date_parse(const char *s, report_date *out)
{
	int			y,
				m,
				d,
				n = 0;

	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10)
		return false;
	if (y < 1900 || y > 9999 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return false;
	out->year = y;
	out->month = m;
	out->day = d;
	return true;
}

void
date_format(report_date d, char *buf)
{
	snprintf(buf, 11, "%04d-%02d-%02d", d.year % 10000, d.month % 100, d.day % 100);
}

long
date_to_days(report_date d)
{
	long		y = d.year - (d.month <= 2);
	long		era = (y >= 0 ? y : y - 399) / 400;
	long		yoe = y - era * 400;
	long		doy = (153 * (d.month + (d.month > 2 ? -3 : 9)) + 2) / 5 + d.day - 1;
	long		doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

report_date
date_from_days(long z)
{
	report_date r;
	long		era,
				doe,
				yoe,
				doy,
				mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	r.day = (int) (doy - (153 * mp + 2) / 5 + 1);
	r.month = (int) (mp < 10 ? mp + 3 : mp - 9);
	r.year = (int) (yoe + era * 400 + (r.month <= 2));
	return r;
}

report_date
date_add_months(report_date d, int months)
{
	int			idx = d.year * 12 + (d.month - 1) + months;
	report_date r;

	r.year = idx / 12;
	r.month = idx % 12 + 1;
	r.day = d.day;
	if (r.day > days_in_month(r.year, r.month))
		r.day = days_in_month(r.year, r.month);
	return r;
}

int
date_cmp(report_date a, report_date b)
{
	long		x = date_to_days(a),
				y = date_to_days(b);

	return (x > y) - (x < y);
}

report_period
period_last_full_month(report_date today)
{
	report_period p;

	p.to.year = today.year;
	p.to.month = today.month;
	p.to.day = 1;
	p.from = date_add_months(p.to, -1);
	return p;
}

report_period
period_previous(report_period p)
{
	report_period prev;

	if (p.from.day == 1 && p.to.day == 1)
	{
		int			months = (p.to.year * 12 + p.to.month) - (p.from.year * 12 + p.from.month);

		prev.to = p.from;
		prev.from = date_add_months(p.from, -months);
	}
	else
	{
		long		len = date_to_days(p.to) - date_to_days(p.from);

		prev.to = p.from;
		prev.from = date_from_days(date_to_days(p.from) - len);
	}
	return prev;
}

void
period_label(report_period p, char *buf, int buflen)
{
	static const char *mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
	"Aug", "Sep", "Oct", "Nov", "Dec"};
	report_date last = date_from_days(date_to_days(p.to) - 1);

	snprintf(buf, buflen, "%d %s %d \xe2\x80\x93 %d %s %d",
			 p.from.day, mon[p.from.month - 1], p.from.year,
			 last.day, mon[last.month - 1], last.year);
}

void
period_file_tag(report_period p, char *buf, int buflen)
{
	char		f[11],
				t[11];

	date_format(p.from, f);
	date_format(p.to, t);
	if (p.from.day == 1 && p.to.day == 1 && date_cmp(date_add_months(p.from, 1), p.to) == 0)
		snprintf(buf, buflen, "%.7s", f);
	else
		snprintf(buf, buflen, "%s_%s", f, t);
}
