/*
 * util.c — errors and small helpers shared by the worker's files.
 */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
set_error(report_error *err, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	err->hint[0] = '\0';
}

void
set_hint(report_error *err, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(err->hint, sizeof(err->hint), fmt, ap);
	va_end(ap);
}

void
print_error(const report_error *err)
{
	fprintf(stderr, "%s: %s\n", PROGRAM, err->message);
	if (err->hint[0])
		fprintf(stderr, "HINT: %s\n", err->hint);
}

char *
xstrdup(const char *s)
{
	char	   *r;

	if (s == NULL)
		return NULL;
	r = strdup(s);
	if (r == NULL)
	{
		fprintf(stderr, "%s: out of memory\n", PROGRAM);
		exit(EXIT_FAILURE_);
	}
	return r;
}

void *
xcalloc(size_t n, size_t size)
{
	void	   *r = calloc(n ? n : 1, size ? size : 1);

	if (r == NULL)
	{
		fprintf(stderr, "%s: out of memory\n", PROGRAM);
		exit(EXIT_FAILURE_);
	}
	return r;
}

char *
read_file(const char *path, report_error *err)
{
	FILE	   *f = fopen(path, "rb");
	char	   *buf;
	long		len;

	if (f == NULL)
	{
		set_error(err, "could not open \"%s\": %s", path, strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
	{
		set_error(err, "could not read \"%s\": %s", path, strerror(errno));
		fclose(f);
		return NULL;
	}
	buf = xcalloc((size_t) len + 1, 1);
	if (len > 0 && fread(buf, 1, (size_t) len, f) != (size_t) len)
	{
		set_error(err, "could not read \"%s\": %s", path, strerror(errno));
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	return buf;
}

void
text_position(const char *text, size_t pos, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < pos && text[i]; i++)
	{
		if (text[i] == '\n')
		{
			(*line)++;
			*col = 1;
		}
		else
			(*col)++;
	}
}

const char *
one_line(const char *s, char *buf, size_t size, bool log_safe)
{
	size_t		i = 0;

	for (; s && *s && i + 1 < size; s++)
	{
		char		c = (*s == '\n' || *s == '\r' || *s == '\t') ? ' ' : *s;

		if (log_safe && c == '"')
			c = '\'';
		if (c == ' ' && (i == 0 || buf[i - 1] == ' '))
			continue;
		buf[i++] = c;
	}
	while (i > 0 && buf[i - 1] == ' ')
		i--;
	buf[i] = '\0';
	return buf;
}
