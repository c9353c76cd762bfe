/*
 * engine.c — writes a workbook from a layout, streaming rows from libpq into
 * libxlsxwriter's constant_memory mode.
 *
 * The engine knows nothing about KPIs or audits: every sheet is a title, a
 * header row and the rows of its query, written in order (constant_memory
 * keeps one row in memory and spills the rest to a scratch file), followed by
 * what the layout asks for once the row count is known: frozen header,
 * autofilter, conditional formats and charts. A sheet whose source is not
 * installed gets a note instead of rows and the report goes on. Values are
 * typed by their column's type OID (cell.c): numbers and dates become
 * numeric cells, text is always written as text, never as a formula.
 */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xlsxwriter.h>

#include "atomic.h"
#include "cell.h"
#include "db.h"

#define TITLE_ROW 0
#define SUBTITLE_ROW 1
#define HEADER_ROW 3
#define FIRST_DATA_ROW 4
#define MAX_TEXT 32767			/* characters in one Excel cell */
#define PROGRESS_EVERY 10000

typedef struct engine
{
	PGconn	   *conn;
	const layout *layout;
	const engine_options *opt;
	report_error *err;
	lxw_workbook *wb;
	lxw_format *fmt[FMT_COUNT_];
	lxw_format *fmt_signed[FMT_COUNT_];	/* "+0.0%;-0.0%;0.0%" … */
	lxw_format *fmt_title;
	lxw_format *fmt_subtitle;
	lxw_format *fmt_header;
	lxw_format *fmt_note;
	lxw_format *fmt_style[3];
	char		period_text[128];
	char		previous_text[128];
	char		generated[64];
	char	   *database;
	long		total_rows;
	int			exit_code;
	char	   *textbuf;		/* MAX_TEXT*4+1: arrays and truncated text */
} engine;

/* One sheet being written. */
typedef struct sheet_state
{
	engine	   *e;
	const layout_sheet *ls;
	lxw_worksheet *ws;
	char		ws_name[64];
	int			part;			/* 1, then 2… when rows exceed Excel's limit */
	lxw_row_t	row;			/* next row to write */
	long		rows;			/* data rows of the first part (charts) */
	long		all_rows;
	int			ncols;			/* result columns */
	unsigned int *types;		/* per result column */
	col_format *formats;		/* per result column */
	bool	   *is_signed;		/* per result column */
	char	  **headers;		/* per result column */
	int		   *out_col;		/* result column → sheet column, -1 = not written */
	int			row_format_col; /* result column naming the row's format, or -1 */
	int			nout;
} sheet_state;

static const char *const excel_formats[FMT_COUNT_] = {
	NULL,						/* auto */
	"@",						/* text */
	"#,##0",					/* integer */
	"#,##0.00",					/* number */
	"0.0",						/* decimal1 */
	"0.0%",						/* percent */
	"yyyy-mm-dd",				/* date */
	"yyyy-mm-dd hh:mm",			/* datetime */
	"mmm yyyy",					/* month */
	"#,##0",					/* money */
	"0.0 \"h\"",				/* hours */
	"0.0 \"d\"",				/* days */
	NULL						/* by_row */
};

static bool
lxw_ok(engine *e, lxw_error rc, const char *what, const char *sheet)
{
	if (rc == LXW_NO_ERROR)
		return true;
	set_error(e->err, "sheet \"%s\": %s: %s", sheet ? sheet : "-", what, lxw_strerror(rc));
	e->exit_code = EXIT_FAILURE_;
	return false;
}

static void
make_formats(engine *e)
{
	for (int i = 0; i < FMT_COUNT_; i++)
	{
		e->fmt[i] = workbook_add_format(e->wb);
		if (excel_formats[i])
			format_set_num_format(e->fmt[i], excel_formats[i]);
		format_set_align(e->fmt[i], LXW_ALIGN_VERTICAL_TOP);
	}
	for (int i = 0; i < FMT_COUNT_; i++)
	{
		char		signed_fmt[128];
		const char *p = excel_formats[i] ? excel_formats[i] : "General";

		if (i == FMT_DATE || i == FMT_DATETIME || i == FMT_MONTH || i == FMT_TEXT)
		{
			e->fmt_signed[i] = e->fmt[i];
			continue;
		}
		snprintf(signed_fmt, sizeof(signed_fmt), "+%s;-%s;%s", p, p, p);
		e->fmt_signed[i] = workbook_add_format(e->wb);
		format_set_num_format(e->fmt_signed[i], signed_fmt);
		format_set_align(e->fmt_signed[i], LXW_ALIGN_VERTICAL_TOP);
	}
	e->fmt_title = workbook_add_format(e->wb);
	format_set_bold(e->fmt_title);
	format_set_font_size(e->fmt_title, 14);
	format_set_font_color(e->fmt_title, 0x1F3864);
	e->fmt_subtitle = workbook_add_format(e->wb);
	format_set_italic(e->fmt_subtitle);
	format_set_font_color(e->fmt_subtitle, 0x595959);
	e->fmt_header = workbook_add_format(e->wb);
	format_set_bold(e->fmt_header);
	format_set_font_color(e->fmt_header, LXW_COLOR_WHITE);
	format_set_bg_color(e->fmt_header, 0x1F4E78);
	format_set_text_wrap(e->fmt_header);
	format_set_align(e->fmt_header, LXW_ALIGN_VERTICAL_CENTER);
	format_set_border(e->fmt_header, LXW_BORDER_THIN);
	format_set_border_color(e->fmt_header, 0xBFBFBF);
	e->fmt_note = workbook_add_format(e->wb);
	format_set_italic(e->fmt_note);
	format_set_font_color(e->fmt_note, 0x9C5700);
	format_set_bg_color(e->fmt_note, 0xFFF2CC);
	/* traffic-light styles of conditional formats: good, neutral, bad */
	{
		static const unsigned int bg[3] = {0xC6EFCE, 0xFFEB9C, 0xFFC7CE};
		static const unsigned int fg[3] = {0x006100, 0x9C5700, 0x9C0006};

		for (int i = 0; i < 3; i++)
		{
			e->fmt_style[i] = workbook_add_format(e->wb);
			format_set_bg_color(e->fmt_style[i], bg[i]);
			format_set_font_color(e->fmt_style[i], fg[i]);
		}
	}
}

/* UTF-8-safe copy of at most MAX_TEXT characters. */
static const char *
clip_text(engine *e, const char *s)
{
	size_t		chars = 0,
				i = 0;

	for (i = 0; s[i]; i++)
	{
		if (((unsigned char) s[i] & 0xC0) != 0x80)
		{
			if (chars == MAX_TEXT)
				break;
			chars++;
		}
	}
	if (s[i] == '\0')
		return s;
	memcpy(e->textbuf, s, i);
	e->textbuf[i] = '\0';
	return e->textbuf;
}

static bool
write_text(sheet_state *st, lxw_row_t r, lxw_col_t c, const char *s, lxw_format *f)
{
	/* worksheet_write_string never makes a formula: "=…" stays text */
	return lxw_ok(st->e, worksheet_write_string(st->ws, r, c, clip_text(st->e, s), f),
				  "could not write a cell", st->ws_name);
}

static col_format
default_format(unsigned int typoid)
{
	switch (cell_kind_for_type(typoid))
	{
		case CELL_DATE:
			return FMT_DATE;
		case CELL_DATETIME:
			return FMT_DATETIME;
		default:
			return FMT_AUTO;
	}
}

/* characters of a UTF-8 string */
static size_t
utf8_chars(const char *s)
{
	size_t		n = 0;

	for (; *s; s++)
		n += ((unsigned char) *s & 0xC0) != 0x80;
	return n;
}

/*
 * A readable width for a column without a declared one: the longest word of
 * the (wrapping) header, the widest value of the first batch of rows, or the
 * width a date needs; at most 60 characters (longer text is cut off, not
 * wrapped, so that rows keep one line).
 */
static double
auto_width(const char *header, unsigned int typoid, col_format f,
		   const PGresult *res, int col)
{
	double		w = 8;
	size_t		word = 0;

	for (const char *p = header;; p++)
	{
		if (*p == ' ' || *p == '\0')
		{
			if (word + 3 > w)
				w = word + 3;
			word = 0;
			if (*p == '\0')
				break;
		}
		else if (((unsigned char) *p & 0xC0) != 0x80)
			word++;
	}
	switch (f == FMT_AUTO ? default_format(typoid) : f)
	{
		case FMT_DATETIME:
			return w < 17 ? 17 : w;
		case FMT_DATE:
			return w < 11 ? 11 : w;
		case FMT_MONTH:
			return w < 10 ? 10 : w;
		default:
			break;
	}
	if (res)
	{
		int			n = PQntuples(res);
		bool		number = cell_kind_for_type(typoid) == CELL_NUMBER;

		for (int r = 0; r < n; r++)
		{
			double		len;

			if (PQgetisnull(res, r, col))
				continue;
			if (cell_kind_for_type(typoid) == CELL_ARRAY)
				len = (double) utf8_chars(PQgetvalue(res, r, col)) * 1.1;
			else
				len = (double) utf8_chars(PQgetvalue(res, r, col));
			/* thousands separators, unit suffixes */
			len += number ? 4 : 2;
			if (len > w)
				w = len;
		}
	}
	return w > 60 ? 60 : w;
}

static bool
start_part(sheet_state *st)
{
	engine	   *e = st->e;
	const layout_sheet *ls = st->ls;
	char		sub[512];

	if (st->part == 1)
		snprintf(st->ws_name, sizeof(st->ws_name), "%s", ls->name);
	else
	{
		/* "Audit trail (2)": keep within Excel's 31 characters */
		char		suffix[16];
		int			keep;

		snprintf(suffix, sizeof(suffix), " (%d)", st->part);
		keep = 31 - (int) strlen(suffix);
		snprintf(st->ws_name, sizeof(st->ws_name), "%.*s%s", keep, ls->name, suffix);
	}
	st->ws = workbook_add_worksheet(e->wb, st->ws_name);
	if (st->ws == NULL)
	{
		set_error(e->err, "sheet \"%s\": could not add the sheet", st->ws_name);
		e->exit_code = EXIT_FAILURE_;
		return false;
	}
	/* printable as a manager would: A4 landscape, one page wide, header repeated */
	worksheet_set_paper(st->ws, 9);
	worksheet_set_landscape(st->ws);
	worksheet_fit_to_pages(st->ws, 1, 0);
	if (!lxw_ok(e, worksheet_repeat_rows(st->ws, HEADER_ROW, HEADER_ROW), "repeating the header", st->ws_name) ||
		!lxw_ok(e, worksheet_set_footer(st->ws, "&L&8medcrm &A&R&8Page &P of &N"), "setting the footer", st->ws_name) ||
		!lxw_ok(e, worksheet_set_column(st->ws, 0, 0, 14, NULL), "setting a column width", st->ws_name))
		return false;
	if (!write_text(st, TITLE_ROW, 0, ls->title ? ls->title : ls->name, e->fmt_title))
		return false;
	snprintf(sub, sizeof(sub), "%s%sPeriod %s%s%s%s",
			 ls->description ? ls->description : "", ls->description ? "  ·  " : "",
			 e->period_text,
			 strstr(ls->sql, "$3") ? ", compared with " : "",
			 strstr(ls->sql, "$3") ? e->previous_text : "",
			 st->part > 1 ? "  ·  continued" : "");
	if (!write_text(st, SUBTITLE_ROW, 0, sub, e->fmt_subtitle))
		return false;
	st->row = HEADER_ROW;
	return true;
}

static bool
write_header(sheet_state *st, const PGresult *res)
{
	for (int i = 0; i < st->ncols; i++)
	{
		const layout_column *lc = st->ls->columns ? &st->ls->columns[i] : NULL;
		double		w;

		if (st->out_col[i] < 0)
			continue;
		w = (lc && lc->width > 0) ? lc->width
			: auto_width(st->headers[i], st->types[i], st->formats[i], res, i);
		if (!lxw_ok(st->e, worksheet_set_column(st->ws, st->out_col[i], st->out_col[i], w, NULL),
					"setting a column width", st->ws_name))
			return false;
		if (!write_text(st, HEADER_ROW, st->out_col[i], st->headers[i], st->e->fmt_header))
			return false;
	}
	if (!lxw_ok(st->e, worksheet_set_row(st->ws, HEADER_ROW, 30, NULL), "setting the header height", st->ws_name))
		return false;
	st->row = FIRST_DATA_ROW;
	return true;
}

/* "tier_score" → "Tier score" for sheets without declared columns */
static char *
pretty_header(const char *name)
{
	char	   *h = xstrdup(name);

	for (char *p = h; *p; p++)
		if (*p == '_')
			*p = ' ';
	if (h[0] >= 'a' && h[0] <= 'z')
		h[0] -= 'a' - 'A';
	return h;
}

static bool
describe(sheet_state *st, const PGresult *res)
{
	engine	   *e = st->e;
	const layout_sheet *ls = st->ls;
	int			n = PQnfields(res);
	int			out = 0;

	if (ls->columns && ls->ncolumns != n)
	{
		set_error(e->err, "%s: sheet \"%s\": the query returns %d columns but the layout declares %d",
				  e->layout->path, ls->name, n, ls->ncolumns);
		set_hint(e->err, "Declare one entry in \"columns\" per column of the query's SELECT list, in the same order.");
		e->exit_code = EXIT_USAGE;
		return false;
	}
	st->ncols = n;
	st->types = xcalloc(n, sizeof(unsigned int));
	st->formats = xcalloc(n, sizeof(col_format));
	st->is_signed = xcalloc(n, sizeof(bool));
	st->headers = xcalloc(n, sizeof(char *));
	st->out_col = xcalloc(n, sizeof(int));
	st->row_format_col = -1;
	for (int i = 0; i < n; i++)
	{
		st->types[i] = PQftype(res, i);
		if (ls->columns)
		{
			st->headers[i] = xstrdup(ls->columns[i].header);
			st->formats[i] = ls->columns[i].format;
			st->is_signed[i] = ls->columns[i].is_signed;
			if (ls->columns[i].row_format)
			{
				st->row_format_col = i;
				st->out_col[i] = -1;
				continue;
			}
		}
		else
			st->headers[i] = pretty_header(PQfname(res, i));
		if (st->formats[i] == FMT_AUTO)
			st->formats[i] = default_format(st->types[i]);
		st->out_col[i] = out++;
	}
	st->nout = out;
	return write_header(st, res);
}

static bool
write_value(sheet_state *st, lxw_row_t r, int i, const char *v, col_format f)
{
	engine	   *e = st->e;
	lxw_col_t	c = (lxw_col_t) st->out_col[i];
	lxw_format *fmt = st->is_signed[i] ? e->fmt_signed[f] : e->fmt[f];
	cell_kind	kind = cell_kind_for_type(st->types[i]);

	if (f == FMT_TEXT)
		return write_text(st, r, c, v, fmt);
	switch (kind)
	{
		case CELL_NUMBER:
			{
				double		d;

				if (cell_parse_number(v, &d))
					return lxw_ok(e, worksheet_write_number(st->ws, r, c, d, fmt),
								  "could not write a number", st->ws_name);
				return write_text(st, r, c, v, NULL);	/* NaN, Infinity */
			}
		case CELL_BOOLEAN:
			return write_text(st, r, c, v[0] == 't' ? "yes" : "no", NULL);
		case CELL_DATE:
		case CELL_DATETIME:
			{
				cell_datetime dt;

				if (cell_parse_datetime(v, &dt))
				{
					lxw_datetime x = {dt.year, dt.month, dt.day, dt.hour, dt.min, dt.sec};

					if (f != FMT_DATE && f != FMT_DATETIME && f != FMT_MONTH)
						fmt = e->fmt[kind == CELL_DATE ? FMT_DATE : FMT_DATETIME];
					return lxw_ok(e, worksheet_write_datetime(st->ws, r, c, &x, fmt),
								  "could not write a date", st->ws_name);
				}
				return write_text(st, r, c, v, NULL);	/* infinity, BC */
			}
		case CELL_ARRAY:
			cell_format_array(v, e->textbuf, MAX_TEXT * 4 + 1);
			return write_text(st, r, c, e->textbuf, NULL);
		case CELL_STRING:
		default:
			return write_text(st, r, c, v, NULL);
	}
}

static void
progress(sheet_state *st, bool done)
{
	if (!st->e->opt->progress)
		return;
	fprintf(stderr, "\r%s: sheet %-31s %10ld rows%s", PROGRAM, st->ls->name,
			st->all_rows, done ? "\n" : "");
	fflush(stderr);
}

static bool
on_batch(void *arg, const PGresult *res, bool first)
{
	sheet_state *st = arg;
	int			n = PQntuples(res);

	if (first && !describe(st, res))
		return false;
	for (int r = 0; r < n; r++)
	{
		col_format rowfmt = FMT_AUTO;

		if (st->row > LXW_ROW_MAX - 1)
		{
			/* Excel's limit: continue on "<name> (2)" */
			st->part++;
			if (!start_part(st) || !write_header(st, NULL))
				return false;
		}
		if (st->row_format_col >= 0 && !PQgetisnull(res, r, st->row_format_col))
			(void) format_from_name(PQgetvalue(res, r, st->row_format_col), &rowfmt);
		for (int i = 0; i < st->ncols; i++)
		{
			col_format f = st->formats[i];

			if (st->out_col[i] < 0 || PQgetisnull(res, r, i))
				continue;
			if (f == FMT_BY_ROW)
				f = rowfmt == FMT_BY_ROW ? FMT_AUTO : rowfmt;
			if (!write_value(st, st->row, i, PQgetvalue(res, r, i), f))
				return false;
		}
		st->row++;
		st->all_rows++;
		if (st->part == 1)
			st->rows++;
		if (st->all_rows % PROGRESS_EVERY == 0)
			progress(st, false);
	}
	return true;
}

static bool
write_note(sheet_state *st, lxw_row_t r, const char *text)
{
	if (st->ncols == 0)			/* no table: give the note room */
		worksheet_set_column(st->ws, 0, 0, 90, NULL);
	return write_text(st, r, 0, text, st->e->fmt_note);
}

static void
cell_ref(const char *a1, lxw_row_t *row, lxw_col_t *col)
{
	*row = lxw_name_to_row(a1);
	*col = lxw_name_to_col(a1);
}

static bool
add_conditionals(sheet_state *st)
{
	lxw_row_t	last = FIRST_DATA_ROW + st->rows - 1;

	for (int i = 0; i < st->ls->nconds; i++)
	{
		const layout_cond *lc = &st->ls->conds[i];
		lxw_conditional_format cf;
		lxw_col_t	c = (lxw_col_t) st->out_col[lc->column];
		char		quoted[512];

		memset(&cf, 0, sizeof(cf));
		switch (lc->type)
		{
			case COND_EQUALS:
				snprintf(quoted, sizeof(quoted), "\"%s\"", lc->text);
				cf.type = LXW_CONDITIONAL_TYPE_CELL;
				cf.criteria = LXW_CONDITIONAL_CRITERIA_EQUAL_TO;
				cf.value_string = quoted;
				cf.format = st->e->fmt_style[lc->style];
				break;
			case COND_LESS_THAN:
			case COND_GREATER_THAN:
				cf.type = LXW_CONDITIONAL_TYPE_CELL;
				cf.criteria = lc->type == COND_LESS_THAN ? LXW_CONDITIONAL_CRITERIA_LESS_THAN
					: LXW_CONDITIONAL_CRITERIA_GREATER_THAN;
				cf.value = lc->number;
				cf.format = st->e->fmt_style[lc->style];
				break;
			case COND_DATA_BAR:
				cf.type = LXW_CONDITIONAL_DATA_BAR;
				cf.bar_color = 0x5B9BD5;
				break;
			case COND_COLOR_SCALE:
				cf.type = LXW_CONDITIONAL_3_COLOR_SCALE;
				cf.min_color = 0xF8696B;
				cf.mid_color = 0xFFEB84;
				cf.max_color = 0x63BE7B;
				break;
		}
		if (!lxw_ok(st->e, worksheet_conditional_format_range(st->ws, FIRST_DATA_ROW, c, last, c, &cf),
					"could not add a conditional format", st->ls->name))
			return false;
	}
	return true;
}

static bool
add_charts(sheet_state *st, lxw_worksheet *ws)
{
	engine	   *e = st->e;
	const char *name = st->ls->name;
	lxw_row_t	last = FIRST_DATA_ROW + st->rows - 1;
	lxw_row_t	anchor_row = HEADER_ROW;
	lxw_col_t	anchor_col = (lxw_col_t) (st->nout + 1);

	for (int i = 0; i < st->ls->ncharts; i++)
	{
		const layout_chart *lc = &st->ls->charts[i];
		static const uint8_t kinds[] = {LXW_CHART_COLUMN, LXW_CHART_BAR, LXW_CHART_LINE,
		LXW_CHART_PIE, LXW_CHART_DOUGHNUT};
		lxw_chart  *chart = workbook_add_chart(e->wb, kinds[lc->kind]);
		lxw_chart_options opt;
		lxw_col_t	cat = (lxw_col_t) st->out_col[lc->categories];
		bool		pie = lc->kind == CHART_PIE || lc->kind == CHART_DOUGHNUT;

		if (chart == NULL)
		{
			set_error(e->err, "sheet \"%s\": could not create a chart", name);
			e->exit_code = EXIT_FAILURE_;
			return false;
		}
		for (int s = 0; s < lc->nseries; s++)
		{
			lxw_col_t	col = (lxw_col_t) st->out_col[lc->series[s]];
			lxw_chart_series *series = chart_add_series(chart, NULL, NULL);

			chart_series_set_categories(series, name, FIRST_DATA_ROW, cat, last, cat);
			chart_series_set_values(series, name, FIRST_DATA_ROW, col, last, col);
			chart_series_set_name_range(series, name, HEADER_ROW, col);
			if (lc->kind == CHART_LINE)
			{
				chart_series_set_marker_type(series, LXW_CHART_MARKER_CIRCLE);
				chart_series_set_marker_size(series, 5);
			}
			if (pie)
			{
				chart_series_set_labels(series);
				chart_series_set_labels_options(series, LXW_FALSE, LXW_FALSE, LXW_FALSE);
				chart_series_set_labels_percentage(series);
			}
		}
		chart_title_set_name(chart, lc->title);
		if (!pie)
		{
			/* a bar chart lies on its side: its value axis is the x axis */
			bool		bar = lc->kind == CHART_BAR;
			lxw_chart_axis *cat_axis = bar ? chart->y_axis : chart->x_axis;
			lxw_chart_axis *val_axis = bar ? chart->x_axis : chart->y_axis;

			if (lc->x_title)
				chart_axis_set_name(cat_axis, lc->x_title);
			if (lc->y_title)
				chart_axis_set_name(val_axis, lc->y_title);
			if (lc->y_format != FMT_AUTO && excel_formats[lc->y_format])
				chart_axis_set_num_format(val_axis, lc->y_format == FMT_PERCENT
										  ? "0%" : excel_formats[lc->y_format]);
			chart_axis_major_gridlines_set_visible(val_axis, LXW_TRUE);
			if (bar)
				chart_axis_set_reverse(cat_axis);	/* first row on top, as in the table */
			/* dates on the category axis as dates, not serial numbers */
			{
				col_format cf = st->formats[lc->categories];

				if (cf == FMT_DATE || cf == FMT_DATETIME || cf == FMT_MONTH)
					chart_axis_set_num_format(cat_axis, cf == FMT_MONTH ? "mmm yy" : excel_formats[cf]);
			}
		}
		chart_legend_set_position(chart, (lc->nseries == 1 && !pie)
								  ? LXW_CHART_LEGEND_NONE : LXW_CHART_LEGEND_BOTTOM);
		memset(&opt, 0, sizeof(opt));
		opt.x_scale = lc->width / 480.0;
		opt.y_scale = lc->height / 288.0;
		if (lc->anchor)
			cell_ref(lc->anchor, &anchor_row, &anchor_col);
		if (!lxw_ok(e, worksheet_insert_chart_opt(ws, anchor_row, anchor_col, chart, &opt),
					"could not insert a chart", name))
			return false;
		/* the next chart without an anchor goes below this one */
		anchor_row += (lxw_row_t) (lc->height / 20 + 2);
	}
	return true;
}

static void
free_sheet_state(sheet_state *st)
{
	for (int i = 0; i < st->ncols; i++)
		free(st->headers[i]);
	free(st->headers);
	free(st->types);
	free(st->formats);
	free(st->is_signed);
	free(st->out_col);
}

static bool
write_sheet(engine *e, const layout_sheet *ls)
{
	const char *params[4];
	char		p[4][11];
	report_period prev = period_previous(e->opt->period);
	sheet_state st;
	lxw_worksheet *first_ws;
	db_status	status;
	bool		ok = true;

	memset(&st, 0, sizeof(st));
	st.e = e;
	st.ls = ls;
	st.part = 1;
	if (!start_part(&st))
		return false;
	first_ws = st.ws;

	/* is everything the query reads installed? */
	for (int i = 0; i < ls->nrequires; i++)
	{
		int			ex = db_source_exists(e->conn, ls->requires[i], e->err);
		char		note[600];

		if (ex < 0)
		{
			e->exit_code = EXIT_FAILURE_;
			return false;
		}
		if (!ex)
		{
			snprintf(note, sizeof(note), "source %s is not installed in this database", ls->requires[i]);
			if (e->opt->progress)
				fprintf(stderr, "%s: sheet %s: %s\n", PROGRAM, ls->name, note);
			return write_note(&st, HEADER_ROW, note);
		}
	}

	date_format(e->opt->period.from, p[0]);
	date_format(e->opt->period.to, p[1]);
	date_format(prev.from, p[2]);
	date_format(prev.to, p[3]);
	for (int i = 0; i < 4; i++)
		params[i] = p[i];
	progress(&st, false);
	status = db_stream(e->conn, ls->sql, params, 4, e->opt->fetch_rows, on_batch, &st, e->err);
	switch (status)
	{
		case DB_OK:
			break;
		case DB_MISSING:
			{
				char		note[2200];

				snprintf(note, sizeof(note), "source not installed in this database (%s)", e->err->message);
				e->err->message[0] = '\0';
				e->err->hint[0] = '\0';
				ok = write_note(&st, st.row > HEADER_ROW ? st.row : HEADER_ROW, note);
				free_sheet_state(&st);
				return ok;
			}
		case DB_ERROR:
			{
				report_error copy = *e->err;

				set_error(e->err, "sheet \"%s\": %s", ls->name, copy.message);
				snprintf(e->err->hint, sizeof(e->err->hint), "%s", copy.hint);
				e->exit_code = EXIT_FAILURE_;
				free_sheet_state(&st);
				return false;
			}
		case DB_ABORTED:
			if (e->exit_code == EXIT_OK)
				e->exit_code = EXIT_FAILURE_;
			free_sheet_state(&st);
			return false;
	}
	progress(&st, true);
	e->total_rows += st.all_rows;

	if (st.rows == 0)
		ok = write_note(&st, FIRST_DATA_ROW, ls->empty_note ? ls->empty_note : "No rows for this period.");
	else
	{
		if (ls->freeze)
			worksheet_freeze_panes(first_ws, FIRST_DATA_ROW, 0);
		ok = !(ls->autofilter && st.nout > 0) ||
			lxw_ok(e, worksheet_autofilter(first_ws, HEADER_ROW, 0, FIRST_DATA_ROW + st.rows - 1,
										   (lxw_col_t) (st.nout - 1)), "adding the filter", ls->name);
		st.ws = first_ws;
		ok = ok && add_conditionals(&st) && add_charts(&st, first_ws);
	}
	free_sheet_state(&st);
	return ok;
}

static bool
set_properties(engine *e)
{
	lxw_doc_properties props;
	char		comments[512];
	char		subject[256];

	snprintf(subject, sizeof(subject), "%s, %s",
			 e->layout->subject ? e->layout->subject : e->layout->title, e->period_text);
	snprintf(comments, sizeof(comments),
			 "Period %s (compared with %s). Generated at %s from database %s by %s %s.",
			 e->period_text, e->previous_text, e->generated, e->database, PROGRAM, MEDCRM_VERSION);
	memset(&props, 0, sizeof(props));
	props.title = e->layout->title;
	props.subject = subject;
	props.author = "medcrm";
	props.company = "medcrm";
	props.category = e->layout->report;
	props.keywords = "medcrm";
	props.comments = comments;
	props.status = "final";
	props.created = time(NULL);
	{
		char		from[11],
					to[11];

		date_format(e->opt->period.from, from);
		date_format(e->opt->period.to, to);
		return lxw_ok(e, workbook_set_properties(e->wb, &props), "setting the document properties", NULL) &&
			lxw_ok(e, workbook_set_custom_property_string(e->wb, "Report", e->layout->report),
				   "setting the document properties", NULL) &&
			lxw_ok(e, workbook_set_custom_property_string(e->wb, "Period from", from),
				   "setting the document properties", NULL) &&
			lxw_ok(e, workbook_set_custom_property_string(e->wb, "Period to (exclusive)", to),
				   "setting the document properties", NULL) &&
			lxw_ok(e, workbook_set_custom_property_string(e->wb, "Generated at", e->generated),
				   "setting the document properties", NULL) &&
			lxw_ok(e, workbook_set_custom_property_string(e->wb, "Database", e->database),
				   "setting the document properties", NULL);
	}
}

int
engine_run(PGconn *conn, const layout *l, const engine_options *opt, report_error *err)
{
	engine		e;
	atomic_file af = {0};
	lxw_workbook_options wopt = {0};
	lxw_error	rc;
	bool		ok = true;

	memset(&e, 0, sizeof(e));
	e.conn = conn;
	e.layout = l;
	e.opt = opt;
	e.err = err;
	e.exit_code = EXIT_OK;
	period_label(opt->period, e.period_text, sizeof(e.period_text));
	period_label(period_previous(opt->period), e.previous_text, sizeof(e.previous_text));
	e.database = db_value(conn, "SELECT pg_catalog.current_database()", err);
	if (e.database == NULL)
		return EXIT_FAILURE_;
	{
		char	   *now = db_value(conn, "SELECT pg_catalog.to_char(pg_catalog.now(), 'YYYY-MM-DD HH24:MI:SS TZ')", err);

		if (now == NULL)
		{
			free(e.database);
			return EXIT_FAILURE_;
		}
		snprintf(e.generated, sizeof(e.generated), "%s", now);
		free(now);
	}
	if (!atomic_begin(&af, opt->output, err))
	{
		free(e.database);
		return EXIT_FAILURE_;
	}
	wopt.constant_memory = LXW_TRUE;
	wopt.tmpdir = (char *) opt->tmpdir;
	wopt.use_zip64 = LXW_TRUE;
	e.wb = workbook_new_opt(af.temp, &wopt);
	if (e.wb == NULL)
	{
		set_error(err, "could not create the workbook \"%s\"", af.temp);
		atomic_abort(&af);
		free(e.database);
		return EXIT_FAILURE_;
	}
	e.textbuf = xcalloc(MAX_TEXT * 4 + 1, 1);
	make_formats(&e);
	ok = set_properties(&e);
	for (int i = 0; i < l->nsheets && ok; i++)
		ok = write_sheet(&e, &l->sheets[i]);
	rc = workbook_close(e.wb);
	if (ok && rc != LXW_NO_ERROR)
	{
		set_error(err, "could not write the workbook: %s", lxw_strerror(rc));
		e.exit_code = EXIT_FAILURE_;
		ok = false;
	}
	if (ok)
	{
		if (!atomic_commit(&af, err))
		{
			e.exit_code = EXIT_FAILURE_;
			ok = false;
		}
	}
	else
		atomic_abort(&af);
	if (ok && opt->rows_written)
		*opt->rows_written = e.total_rows;
	if (ok && opt->progress)
		fprintf(stderr, "%s: wrote %s (%ld rows)\n", PROGRAM, opt->output, e.total_rows);
	free(e.textbuf);
	free(e.database);
	return ok ? EXIT_OK : (e.exit_code == EXIT_OK ? EXIT_FAILURE_ : e.exit_code);
}
