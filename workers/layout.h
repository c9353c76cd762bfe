/*
 * layout.h — report layouts: the sheets of a workbook, declared in JSON.
 *
 * reports/kpi.json and reports/compliance.json are data, not code: each sheet
 * names its SQL (with $1/$2 for the period and $3/$4 for the period before),
 * its columns with headers, widths and formats, conditional formats and
 * charts. layout_load() validates a file completely before anything is
 * queried, so that a typo is reported with file, place and fix (exit 2).
 */
#ifndef MEDCRM_REPORT_LAYOUT_H
#define MEDCRM_REPORT_LAYOUT_H

#include <stdbool.h>

#include "util.h"

typedef enum col_format
{
	FMT_AUTO,					/* from the column's type */
	FMT_TEXT,
	FMT_INTEGER,
	FMT_NUMBER,
	FMT_DECIMAL1,
	FMT_PERCENT,
	FMT_DATE,
	FMT_DATETIME,
	FMT_MONTH,
	FMT_MONEY,
	FMT_HOURS,
	FMT_DAYS,
	FMT_BY_ROW,					/* named by the sheet's row_format column */
	FMT_COUNT_
} col_format;

typedef enum cond_type
{
	COND_EQUALS,				/* cell text equals value → style */
	COND_LESS_THAN,				/* cell number < value → style */
	COND_GREATER_THAN,			/* cell number > value → style */
	COND_DATA_BAR,
	COND_COLOR_SCALE			/* red (low) – yellow – green (high) */
} cond_type;

typedef enum cond_style
{
	STYLE_GOOD,
	STYLE_NEUTRAL,
	STYLE_BAD
} cond_style;

typedef enum chart_kind
{
	CHART_COLUMN,
	CHART_BAR,
	CHART_LINE,
	CHART_PIE,
	CHART_DOUGHNUT
} chart_kind;

typedef struct layout_column
{
	char	   *header;
	double		width;			/* characters; 0 = from header and data */
	col_format	format;
	bool		is_signed;		/* numbers shown with + or - (changes) */
	bool		row_format;		/* not written: names the format of FMT_BY_ROW cells */
} layout_column;

typedef struct layout_cond
{
	int			column;			/* index into columns */
	cond_type	type;
	cond_style	style;
	char	   *text;			/* COND_EQUALS */
	double		number;			/* COND_LESS_THAN, COND_GREATER_THAN */
} layout_cond;

typedef struct layout_chart
{
	chart_kind	kind;
	char	   *title;
	int			categories;		/* column index */
	int		   *series;			/* column indexes */
	int			nseries;
	char	   *x_title;
	char	   *y_title;
	col_format	y_format;
	char	   *anchor;			/* "H4"; NULL = right of the table */
	int			width;			/* pixels */
	int			height;
} layout_chart;

typedef struct layout_sheet
{
	char	   *name;
	char	   *title;
	char	   *description;
	char	  **requires;		/* "medcrm.v_x" or "medcrm.f(date,date)" */
	int			nrequires;
	char	   *sql;
	layout_column *columns;		/* NULL = from the result (names and types) */
	int			ncolumns;
	bool		freeze;
	bool		autofilter;
	char	   *empty_note;
	layout_cond *conds;
	int			nconds;
	layout_chart *charts;
	int			ncharts;
} layout_sheet;

typedef struct layout
{
	char	   *path;
	char	   *report;			/* "kpi", "compliance", … */
	char	   *title;
	char	   *subject;
	layout_sheet *sheets;
	int			nsheets;
} layout;

/* Parse and validate; on failure err holds "file: place: problem" and a hint. */
extern layout *layout_parse(const char *path, const char *text, report_error *err);
extern layout *layout_load(const char *path, report_error *err);
extern void layout_free(layout *l);
extern bool format_from_name(const char *name, col_format *out);

#endif
