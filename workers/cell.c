/*
 * cell.c — conversion of libpq text values into cell values.
 *
 * Kept free of libpq and libxlsxwriter so that it can be unit-tested; the
 * engine (engine.c) calls it for every value it writes.
 */
#include "cell.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Type OIDs of pg_type.h, stable across PostgreSQL versions. */
#define BOOLOID 16
#define INT8OID 20
#define INT2OID 21
#define INT4OID 23
#define OIDOID 26
#define FLOAT4OID 700
#define FLOAT8OID 701
#define NUMERICOID 1700
#define DATEOID 1082
#define TIMESTAMPOID 1114
#define TIMESTAMPTZOID 1184
#define NAMEARRAYOID 1003
#define TEXTARRAYOID 1009
#define VARCHARARRAYOID 1015

cell_kind
cell_kind_for_type(unsigned int typoid)
{
	switch (typoid)
	{
		case INT8OID:
		case INT2OID:
		case INT4OID:
		case OIDOID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			return CELL_NUMBER;
		case BOOLOID:
			return CELL_BOOLEAN;
		case DATEOID:
			return CELL_DATE;
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return CELL_DATETIME;
		case NAMEARRAYOID:
		case TEXTARRAYOID:
		case VARCHARARRAYOID:
			return CELL_ARRAY;
		default:
			return CELL_STRING;
	}
}

bool
cell_parse_number(const char *s, double *out)
{
	char	   *end;
	double		v;

	if (s == NULL || *s == '\0' || isspace((unsigned char) *s))
		return false;
	/* libpq prints NaN and Infinity as words; strtod would accept them */
	if (!(isdigit((unsigned char) *s) || *s == '-' || *s == '+' || *s == '.'))
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (*end != '\0' || errno == ERANGE || !isfinite(v))
		return false;
	*out = v;
	return true;
}

static bool
digits(const char *s, int n, int *out)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		if (!isdigit((unsigned char) s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

bool
cell_parse_datetime(const char *s, cell_datetime *out)
{
	cell_datetime dt = {0};
	size_t		len;

	if (s == NULL)
		return false;
	len = strlen(s);
	/* "YYYY-MM-DD"; years beyond 9999, BC dates and infinity stay text */
	if (len < 10 || s[4] != '-' || s[7] != '-' ||
		!digits(s, 4, &dt.year) || !digits(s + 5, 2, &dt.month) ||
		!digits(s + 8, 2, &dt.day))
		return false;
	if (dt.year < 1900 || dt.month < 1 || dt.month > 12 || dt.day < 1 || dt.day > 31)
		return false;
	if (len == 10)
	{
		*out = dt;
		return true;
	}
	/* " HH:MM:SS[.frac][zone]" */
	if (len < 19 || s[10] != ' ' || s[13] != ':' || s[16] != ':' ||
		!digits(s + 11, 2, &dt.hour) || !digits(s + 14, 2, &dt.min))
		return false;
	{
		const char *p = s + 17;
		char	   *end;
		int			whole;

		if (!digits(p, 2, &whole))
			return false;
		dt.sec = whole;
		p += 2;
		if (*p == '.')
		{
			dt.sec = strtod(p - 2, &end);
			p = end;
		}
		/* a zone suffix (+02, -05:30) is accepted and dropped; nothing else */
		if (*p != '\0' && *p != '+' && *p != '-')
			return false;
		if (strstr(p, " BC") != NULL)
			return false;
	}
	if (dt.hour > 23 || dt.min > 59 || dt.sec >= 61.0)
		return false;
	*out = dt;
	return true;
}

bool
cell_format_array(const char *s, char *buf, size_t buflen)
{
	size_t		o = 0;
	bool		first = true;
	const char *p;

	if (buflen == 0)
		return false;
	buf[0] = '\0';
	if (s == NULL || s[0] != '{')
		return false;
	p = s + 1;
	while (*p && *p != '}')
	{
		char		item[1024];
		size_t		n = 0;
		bool		quoted = false;

		if (*p == '"')
		{
			quoted = true;
			p++;
			while (*p && *p != '"')
			{
				if (*p == '\\' && p[1])
					p++;
				if (n < sizeof(item) - 1)
					item[n++] = *p;
				p++;
			}
			if (*p == '"')
				p++;
		}
		else
		{
			while (*p && *p != ',' && *p != '}')
			{
				if (n < sizeof(item) - 1)
					item[n++] = *p;
				p++;
			}
		}
		item[n] = '\0';
		if (*p == ',')
			p++;
		if (!quoted && strcmp(item, "NULL") == 0)
			continue;
		if (!first && o + 2 < buflen)
		{
			buf[o++] = ';';
			buf[o++] = ' ';
		}
		for (size_t i = 0; i < n && o + 1 < buflen; i++)
			buf[o++] = item[i];
		first = false;
	}
	buf[o < buflen ? o : buflen - 1] = '\0';
	return *p == '}';
}
