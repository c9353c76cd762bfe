/*
 * cell.h — how a PostgreSQL value becomes a spreadsheet cell (pure C).
 *
 * Values arrive as libpq text with the type OID of their column. Numbers and
 * dates become numeric cells (so that sums, filters and charts work); arrays of
 * text become one readable string; everything else is written as a string
 * cell, never as a formula, whatever its first character.
 */
#ifndef MEDCRM_REPORT_CELL_H
#define MEDCRM_REPORT_CELL_H

#include <stdbool.h>
#include <stddef.h>

typedef enum cell_kind
{
	CELL_STRING,
	CELL_NUMBER,
	CELL_BOOLEAN,
	CELL_DATE,
	CELL_DATETIME,
	CELL_ARRAY
} cell_kind;

typedef struct cell_datetime
{
	int			year,
				month,
				day,
				hour,
				min;
	double		sec;
} cell_datetime;

/* The kind of cell for a column of this PostgreSQL type OID. */
extern cell_kind cell_kind_for_type(unsigned int typoid);
/* Whole-string decimal number (libpq text of int/numeric/float); false for NaN, ±Infinity. */
extern bool cell_parse_number(const char *s, double *out);
/* ISO date or timestamp ("2026-10-01", "2026-10-01 08:30:00.5+02"); the zone is dropped. */
extern bool cell_parse_datetime(const char *s, cell_datetime *out);
/*
 * A one-dimensional PostgreSQL array literal ("{a,\"b c\",NULL}") as
 * "a; b c" (NULLs left out). Writes at most buflen-1 bytes; returns false when
 * the literal is not an array.
 */
extern bool cell_format_array(const char *s, char *buf, size_t buflen);

#endif
