/*
 * util.h — errors and small helpers shared by the worker's files.
 */
#ifndef MEDCRM_REPORT_UTIL_H
#define MEDCRM_REPORT_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#define PROGRAM "medcrm-report"

/* Exit codes of medcrm-report. */
#define EXIT_OK 0
#define EXIT_FAILURE_ 1
#define EXIT_USAGE 2

typedef struct report_error
{
	char		message[2048];	/* one line: what and where */
	char		hint[1024];		/* how to fix it; may be empty */
} report_error;

extern void set_error(report_error *err, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
extern void set_hint(report_error *err, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
/* Print "medcrm-report: message" and "HINT: hint" on stderr. */
extern void print_error(const report_error *err);
extern char *xstrdup(const char *s);
extern void *xcalloc(size_t n, size_t size);
/* Whole file into a NUL-terminated buffer; NULL and err set on failure. */
extern char *read_file(const char *path, report_error *err);
/*
 * s as one line into buf (size bytes): line breaks and tabs become blanks,
 * one blank between words, none at the ends (libpq's messages span lines).
 * With log_safe, double quotes become single ones (for a value in "...").
 */
extern const char *one_line(const char *s, char *buf, size_t size, bool log_safe);
/* 1-based line and column of byte offset pos in text. */
extern void text_position(const char *text, size_t pos, int *line, int *col);

#endif
