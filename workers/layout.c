/*
 * layout.c — parsing and validation of report layouts (reports/NAME.json).
 *
 * Everything a layout can say is checked here, before a database is touched:
 * JSON syntax (with line and column), unknown keys (so that a typo such as
 * "widht" is not silently ignored), types, allowed values, column references
 * of charts and conditional formats, and Excel's own limits (sheet names of
 * at most 31 characters without []:*?/\). Each message names the file, the
 * place ("sheets[2].charts[0].series[1]") and, as a hint, the fix.
 */
#include "layout.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const format_names[FMT_COUNT_] = {
	"auto", "text", "integer", "number", "decimal1", "percent", "date",
	"datetime", "month", "money", "hours", "days", "by_row"
};

#define FORMAT_LIST "auto, text, integer, number, decimal1, percent, date, datetime, month, money, hours, days, by_row"

bool
format_from_name(const char *name, col_format *out)
{
	for (int i = 0; i < FMT_COUNT_; i++)
		if (strcmp(name, format_names[i]) == 0)
		{
			*out = (col_format) i;
			return true;
		}
	return false;
}

/* Index of the column with this header, or -1. */
static int
layout_column_index(const layout_sheet *s, const char *header)
{
	for (int i = 0; i < s->ncolumns; i++)
		if (strcmp(s->columns[i].header, header) == 0)
			return i;
	return -1;
}

/* Parsing context: the file and the place being read, for messages. */
typedef struct ctx
{
	const char *path;
	report_error *err;
} ctx;

static bool
fail(ctx *c, const char *place, const char *hint, const char *fmt, const char *arg)
{
	char		what[1024];

	snprintf(what, sizeof(what), fmt, arg ? arg : "");
	set_error(c->err, "%s: %s: %s", c->path, place, what);
	if (hint)
		set_hint(c->err, "%s", hint);
	return false;
}

static bool
check_keys(ctx *c, const cJSON *obj, const char *place, const char *const *allowed)
{
	const cJSON *item;

	if (!cJSON_IsObject(obj))
		return fail(c, place, "Write a JSON object ({ ... }) here.", "expected an object%s", NULL);
	cJSON_ArrayForEach(item, obj)
	{
		bool		known = false;
		char		list[512] = "";

		for (int i = 0; allowed[i]; i++)
		{
			if (strcmp(item->string, allowed[i]) == 0)
				known = true;
			if (strlen(list) + strlen(allowed[i]) + 3 < sizeof(list))
			{
				if (i > 0)
					strcat(list, ", ");
				strcat(list, allowed[i]);
			}
		}
		if (!known)
		{
			char		hint[640];

			snprintf(hint, sizeof(hint), "Allowed keys here: %s (names are case-sensitive).", list);
			return fail(c, place, hint, "unknown key \"%s\"", item->string);
		}
	}
	return true;
}

static bool
get_string(ctx *c, const cJSON *obj, const char *key, const char *place,
		   bool required, char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	char		where[600];

	*out = NULL;
	snprintf(where, sizeof(where), "%s.%s", place, key);
	if (v == NULL)
	{
		if (required)
			return fail(c, place, "Add it; see docs/reports.md for the layout format.",
						"missing required key \"%s\"", key);
		return true;
	}
	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return fail(c, where, "Write a JSON string in double quotes.", "expected a string%s", NULL);
	if (required && v->valuestring[0] == '\0')
		return fail(c, where, "Give it a value.", "must not be empty%s", NULL);
	*out = xstrdup(v->valuestring);
	return true;
}

static bool
get_bool(ctx *c, const cJSON *obj, const char *key, const char *place, bool dflt, bool *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	char		where[600];

	*out = dflt;
	if (v == NULL)
		return true;
	snprintf(where, sizeof(where), "%s.%s", place, key);
	if (!cJSON_IsBool(v))
		return fail(c, where, "Write true or false (without quotes).", "expected true or false%s", NULL);
	*out = cJSON_IsTrue(v);
	return true;
}

static bool
get_number(ctx *c, const cJSON *obj, const char *key, const char *place,
		   double min, double max, double dflt, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	char		where[600];
	char		hint[128];

	*out = dflt;
	if (v == NULL)
		return true;
	snprintf(where, sizeof(where), "%s.%s", place, key);
	snprintf(hint, sizeof(hint), "Write a number from %g to %g (without quotes).", min, max);
	if (!cJSON_IsNumber(v))
		return fail(c, where, hint, "expected a number%s", NULL);
	if (v->valuedouble < min || v->valuedouble > max)
		return fail(c, where, hint, "number out of range%s", NULL);
	*out = v->valuedouble;
	return true;
}

static bool
get_format(ctx *c, const cJSON *obj, const char *key, const char *place, col_format *out)
{
	char	   *name;
	char		where[600];
	bool		ok = true;

	*out = FMT_AUTO;
	if (!get_string(c, obj, key, place, false, &name))
		return false;
	if (name == NULL)
		return true;
	snprintf(where, sizeof(where), "%s.%s", place, key);
	if (!format_from_name(name, out))
		ok = fail(c, where, "Use one of " FORMAT_LIST ".", "unknown format \"%s\"", name);
	free(name);
	return ok;
}

/* A column reference by header; sets *idx. */
static bool
column_ref(ctx *c, const layout_sheet *s, const cJSON *v, const char *where, int *idx)
{
	char		hint[1024] = "Name a column by its exact header, one of: ";

	if (!cJSON_IsString(v))
		return fail(c, where, "Write the header of a column as a string.", "expected a column header%s", NULL);
	*idx = layout_column_index(s, v->valuestring);
	if (*idx >= 0 && !s->columns[*idx].row_format)
		return true;
	for (int i = 0; i < s->ncolumns; i++)
	{
		if (s->columns[i].row_format)
			continue;
		if (strlen(hint) + strlen(s->columns[i].header) + 4 >= sizeof(hint))
			break;
		if (i > 0)
			strcat(hint, ", ");
		strcat(hint, "\"");
		strcat(hint, s->columns[i].header);
		strcat(hint, "\"");
	}
	strcat(hint, ".");
	if (s->columns == NULL)
		snprintf(hint, sizeof(hint), "Charts and conditional formats need the sheet's \"columns\" to be declared.");
	return fail(c, where, hint, "no column with header \"%s\"", v->valuestring);
}

static bool
parse_columns(ctx *c, layout_sheet *s, const cJSON *arr, const char *place)
{
	static const char *const keys[] = {"header", "width", "format", "row_format", "signed", NULL};
	int			n = 0;
	int			nrowfmt = 0;
	const cJSON *item;
	char		where[600];

	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0)
		return fail(c, place, "Write an array of column objects, one per column of the query, e.g. [{\"header\": \"Tier\"}].",
					"expected a non-empty array%s", NULL);
	s->ncolumns = cJSON_GetArraySize(arr);
	s->columns = xcalloc(s->ncolumns, sizeof(layout_column));
	cJSON_ArrayForEach(item, arr)
	{
		layout_column *col = &s->columns[n];

		snprintf(where, sizeof(where), "%s[%d]", place, n);
		if (!check_keys(c, item, where, keys) ||
			!get_string(c, item, "header", where, true, &col->header) ||
			!get_number(c, item, "width", where, 1, 255, 0, &col->width) ||
			!get_format(c, item, "format", where, &col->format) ||
			!get_bool(c, item, "row_format", where, false, &col->row_format) ||
			!get_bool(c, item, "signed", where, false, &col->is_signed))
			return false;
		for (int i = 0; i < n; i++)
			if (strcmp(s->columns[i].header, col->header) == 0)
				return fail(c, where, "Give every column of a sheet its own header.",
							"duplicate header \"%s\"", col->header);
		if (col->row_format)
			nrowfmt++;
		n++;
	}
	if (nrowfmt > 1)
		return fail(c, place, "Keep one column with \"row_format\": true.", "more than one row_format column%s", NULL);
	for (int i = 0; i < n; i++)
		if (s->columns[i].format == FMT_BY_ROW && nrowfmt == 0)
		{
			snprintf(where, sizeof(where), "%s[%d].format", place, i);
			return fail(c, where, "Add a column with \"row_format\": true whose values name the format of each row, or choose a fixed format.",
						"format \"by_row\" needs a row_format column%s", NULL);
		}
	return true;
}

static bool
parse_conds(ctx *c, layout_sheet *s, const cJSON *arr, const char *place)
{
	static const char *const keys[] = {"column", "type", "value", "style", NULL};
	static const char *const types[] = {"equals", "less_than", "greater_than", "data_bar", "color_scale", NULL};
	static const char *const styles[] = {"good", "neutral", "bad", NULL};
	const cJSON *item;
	int			n = 0;
	char		where[600];

	if (!cJSON_IsArray(arr))
		return fail(c, place, "Write an array of conditional formats.", "expected an array%s", NULL);
	s->nconds = cJSON_GetArraySize(arr);
	s->conds = xcalloc(s->nconds, sizeof(layout_cond));
	cJSON_ArrayForEach(item, arr)
	{
		layout_cond *cf = &s->conds[n];
		char	   *type = NULL,
				   *style = NULL;
		const cJSON *v;
		char		w2[700];
		int			t = -1,
					st = -1;

		snprintf(where, sizeof(where), "%s[%d]", place, n);
		if (!check_keys(c, item, where, keys))
			return false;
		snprintf(w2, sizeof(w2), "%s.column", where);
		v = cJSON_GetObjectItemCaseSensitive(item, "column");
		if (v == NULL)
			return fail(c, where, "Name the column it applies to: \"column\": \"<header>\".", "missing required key \"column\"%s", NULL);
		if (!column_ref(c, s, v, w2, &cf->column))
			return false;
		if (!get_string(c, item, "type", where, true, &type))
			return false;
		for (int i = 0; types[i]; i++)
			if (strcmp(type, types[i]) == 0)
				t = i;
		snprintf(w2, sizeof(w2), "%s.type", where);
		if (t < 0)
		{
			fail(c, w2, "Use one of equals, less_than, greater_than, data_bar, color_scale.", "unknown type \"%s\"", type);
			free(type);
			return false;
		}
		free(type);
		cf->type = (cond_type) t;
		if (cf->type == COND_EQUALS || cf->type == COND_LESS_THAN || cf->type == COND_GREATER_THAN)
		{
			v = cJSON_GetObjectItemCaseSensitive(item, "value");
			snprintf(w2, sizeof(w2), "%s.value", where);
			if (v == NULL)
				return fail(c, where, "Add \"value\": the text (equals) or number (less_than, greater_than) to compare with.",
							"missing required key \"value\"%s", NULL);
			if (cf->type == COND_EQUALS)
			{
				if (!cJSON_IsString(v))
					return fail(c, w2, "Write the text to compare with as a string.", "expected a string%s", NULL);
				cf->text = xstrdup(v->valuestring);
			}
			else
			{
				if (!cJSON_IsNumber(v))
					return fail(c, w2, "Write a number (without quotes).", "expected a number%s", NULL);
				cf->number = v->valuedouble;
			}
			if (!get_string(c, item, "style", where, true, &style))
				return false;
			for (int i = 0; styles[i]; i++)
				if (strcmp(style, styles[i]) == 0)
					st = i;
			snprintf(w2, sizeof(w2), "%s.style", where);
			if (st < 0)
			{
				fail(c, w2, "Use one of good (green), neutral (amber), bad (red).", "unknown style \"%s\"", style);
				free(style);
				return false;
			}
			free(style);
			cf->style = (cond_style) st;
		}
		else if (cJSON_GetObjectItemCaseSensitive(item, "value") ||
				 cJSON_GetObjectItemCaseSensitive(item, "style"))
			return fail(c, where, "Remove \"value\" and \"style\": data_bar and color_scale take neither.",
						"data_bar and color_scale take no value or style%s", NULL);
		n++;
	}
	return true;
}

static bool
parse_chart_axis_format(ctx *c, const cJSON *item, const char *where, col_format *out)
{
	if (!get_format(c, item, "y_format", where, out))
		return false;
	if (*out == FMT_BY_ROW)
	{
		char		w2[700];

		snprintf(w2, sizeof(w2), "%s.y_format", where);
		return fail(c, w2, "Choose a fixed format such as percent or integer.", "an axis cannot be formatted by row%s", NULL);
	}
	return true;
}

static bool
parse_charts(ctx *c, layout_sheet *s, const cJSON *arr, const char *place)
{
	static const char *const keys[] = {"type", "title", "categories", "series", "x_title",
	"y_title", "y_format", "anchor", "width", "height", NULL};
	static const char *const kinds[] = {"column", "bar", "line", "pie", "doughnut", NULL};
	const cJSON *item;
	int			n = 0;
	char		where[600];

	if (!cJSON_IsArray(arr))
		return fail(c, place, "Write an array of charts.", "expected an array%s", NULL);
	s->ncharts = cJSON_GetArraySize(arr);
	s->charts = xcalloc(s->ncharts, sizeof(layout_chart));
	cJSON_ArrayForEach(item, arr)
	{
		layout_chart *ch = &s->charts[n];
		char	   *kind = NULL;
		const cJSON *v,
				   *sv;
		char		w2[700];
		int			k = -1,
					i = 0;
		double		num;

		snprintf(where, sizeof(where), "%s[%d]", place, n);
		if (!check_keys(c, item, where, keys) ||
			!get_string(c, item, "type", where, true, &kind))
			return false;
		for (int j = 0; kinds[j]; j++)
			if (strcmp(kind, kinds[j]) == 0)
				k = j;
		snprintf(w2, sizeof(w2), "%s.type", where);
		if (k < 0)
		{
			fail(c, w2, "Use one of column, bar, line, pie, doughnut.", "unknown chart type \"%s\"", kind);
			free(kind);
			return false;
		}
		free(kind);
		ch->kind = (chart_kind) k;
		if (!get_string(c, item, "title", where, true, &ch->title) ||
			!get_string(c, item, "x_title", where, false, &ch->x_title) ||
			!get_string(c, item, "y_title", where, false, &ch->y_title) ||
			!get_string(c, item, "anchor", where, false, &ch->anchor) ||
			!parse_chart_axis_format(c, item, where, &ch->y_format))
			return false;
		if (!get_number(c, item, "width", where, 120, 2000, 640, &num))
			return false;
		ch->width = (int) num;
		if (!get_number(c, item, "height", where, 100, 1500, 360, &num))
			return false;
		ch->height = (int) num;
		if (ch->anchor)
		{
			size_t		letters = strspn(ch->anchor, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
			size_t		digs = strspn(ch->anchor + letters, "0123456789");

			snprintf(w2, sizeof(w2), "%s.anchor", where);
			if (letters < 1 || letters > 2 || digs < 1 || digs > 7 ||
				ch->anchor[letters + digs] != '\0' || ch->anchor[letters] == '0')
				return fail(c, w2, "Write a cell such as \"H4\" (column letters, then row number).",
							"not a cell reference: \"%s\"", ch->anchor);
		}
		v = cJSON_GetObjectItemCaseSensitive(item, "categories");
		snprintf(w2, sizeof(w2), "%s.categories", where);
		if (v == NULL)
			return fail(c, where, "Add \"categories\": the header of the column with the labels.", "missing required key \"categories\"%s", NULL);
		if (!column_ref(c, s, v, w2, &ch->categories))
			return false;
		sv = cJSON_GetObjectItemCaseSensitive(item, "series");
		snprintf(w2, sizeof(w2), "%s.series", where);
		if (sv == NULL)
			return fail(c, where, "Add \"series\": an array of headers of the columns to plot.", "missing required key \"series\"%s", NULL);
		if (!cJSON_IsArray(sv) || cJSON_GetArraySize(sv) == 0)
			return fail(c, w2, "Write an array of column headers, e.g. [\"Accounts\"].", "expected a non-empty array%s", NULL);
		ch->nseries = cJSON_GetArraySize(sv);
		if ((ch->kind == CHART_PIE || ch->kind == CHART_DOUGHNUT) && ch->nseries != 1)
			return fail(c, w2, "Give a pie or doughnut chart exactly one series.", "too many series for a pie chart%s", NULL);
		ch->series = xcalloc(ch->nseries, sizeof(int));
		cJSON_ArrayForEach(v, sv)
		{
			char		w3[760];

			snprintf(w3, sizeof(w3), "%s[%d]", w2, i);
			if (!column_ref(c, s, v, w3, &ch->series[i]))
				return false;
			i++;
		}
		n++;
	}
	return true;
}

/* "sql": one string, or an array of lines (joined with newlines) for readability */
static bool
get_sql(ctx *c, const cJSON *obj, const char *place, char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "sql");
	const cJSON *line;
	char		where[600];
	size_t		len = 1;
	int			i = 0;

	*out = NULL;
	if (v == NULL || !cJSON_IsArray(v))
		return get_string(c, obj, "sql", place, true, out);
	snprintf(where, sizeof(where), "%s.sql", place);
	cJSON_ArrayForEach(line, v)
	{
		if (!cJSON_IsString(line))
		{
			char		w2[700];

			snprintf(w2, sizeof(w2), "%s[%d]", where, i);
			return fail(c, w2, "Write the query as a string or as an array of strings (lines).", "expected a string%s", NULL);
		}
		len += strlen(line->valuestring) + 1;
		i++;
	}
	if (i == 0)
		return fail(c, where, "Write the query of the sheet.", "must not be empty%s", NULL);
	*out = xcalloc(len, 1);
	cJSON_ArrayForEach(line, v)
	{
		strcat(*out, line->valuestring);
		strcat(*out, "\n");
	}
	return true;
}

static bool
valid_sheet_name(const char *name)
{
	size_t		chars = 0;

	for (const unsigned char *p = (const unsigned char *) name; *p; p++)
	{
		if (strchr("[]:*?/\\", *p))
			return false;
		if ((*p & 0xC0) != 0x80)
			chars++;
	}
	return chars >= 1 && chars <= 31 && name[0] != '\'' && name[strlen(name) - 1] != '\'';
}

static bool
parse_sheet(ctx *c, layout_sheet *s, const cJSON *obj, const char *place)
{
	static const char *const keys[] = {"name", "title", "description", "requires", "sql",
	"columns", "freeze", "autofilter", "empty_note", "conditional", "charts", NULL};
	const cJSON *v;
	char		where[600];

	if (!check_keys(c, obj, place, keys) ||
		!get_string(c, obj, "name", place, true, &s->name) ||
		!get_string(c, obj, "title", place, false, &s->title) ||
		!get_string(c, obj, "description", place, false, &s->description) ||
		!get_sql(c, obj, place, &s->sql) ||
		!get_string(c, obj, "empty_note", place, false, &s->empty_note) ||
		!get_bool(c, obj, "freeze", place, true, &s->freeze) ||
		!get_bool(c, obj, "autofilter", place, true, &s->autofilter))
		return false;
	snprintf(where, sizeof(where), "%s.name", place);
	if (!valid_sheet_name(s->name))
		return fail(c, where, "Excel sheet names have 1 to 31 characters, none of [ ] : * ? / \\, and do not start or end with an apostrophe.",
					"invalid sheet name \"%s\"", s->name);
	v = cJSON_GetObjectItemCaseSensitive(obj, "requires");
	if (v)
	{
		const cJSON *r;
		int			i = 0;

		snprintf(where, sizeof(where), "%s.requires", place);
		if (!cJSON_IsArray(v))
			return fail(c, where, "Write an array of names, e.g. [\"medcrm.v_tier_distribution\", \"medcrm.kpi_summary(date,date)\"].",
						"expected an array%s", NULL);
		s->nrequires = cJSON_GetArraySize(v);
		s->requires = xcalloc(s->nrequires, sizeof(char *));
		cJSON_ArrayForEach(r, v)
		{
			char		w2[700];

			snprintf(w2, sizeof(w2), "%s[%d]", where, i);
			if (!cJSON_IsString(r) || r->valuestring[0] == '\0')
				return fail(c, w2, "Write a schema-qualified relation (medcrm.v_x) or function with argument types (medcrm.f(date,date)).",
							"expected a non-empty string%s", NULL);
			if (strchr(r->valuestring, '.') == NULL)
				return fail(c, w2, "Qualify it with its schema, e.g. \"medcrm.%s\".", "name \"%s\" is not schema-qualified", r->valuestring);
			s->requires[i++] = xstrdup(r->valuestring);
		}
	}
	v = cJSON_GetObjectItemCaseSensitive(obj, "columns");
	snprintf(where, sizeof(where), "%s.columns", place);
	if (v && !parse_columns(c, s, v, where))
		return false;
	v = cJSON_GetObjectItemCaseSensitive(obj, "conditional");
	snprintf(where, sizeof(where), "%s.conditional", place);
	if (v && !parse_conds(c, s, v, where))
		return false;
	v = cJSON_GetObjectItemCaseSensitive(obj, "charts");
	snprintf(where, sizeof(where), "%s.charts", place);
	if (v && !parse_charts(c, s, v, where))
		return false;
	return true;
}

layout *
layout_parse(const char *path, const char *text, report_error *err)
{
	static const char *const keys[] = {"report", "title", "subject", "sheets", NULL};
	ctx			c = {path, err};
	cJSON	   *root;
	const char *end = NULL;
	layout	   *l;
	const cJSON *sheets,
			   *item;
	int			n = 0;

	root = cJSON_ParseWithOpts(text, &end, true);
	if (root == NULL)
	{
		int			line,
					col;
		size_t		pos = end ? (size_t) (end - text) : 0;

		text_position(text, pos, &line, &col);
		set_error(err, "%s: line %d, column %d: JSON syntax error", path, line, col);
		set_hint(err, "Check the punctuation just before this place: a missing comma or quote, or a trailing comma.");
		return NULL;
	}
	l = xcalloc(1, sizeof(layout));
	l->path = xstrdup(path);
	if (!check_keys(&c, root, "top level", keys) ||
		!get_string(&c, root, "report", "top level", true, &l->report) ||
		!get_string(&c, root, "title", "top level", true, &l->title) ||
		!get_string(&c, root, "subject", "top level", false, &l->subject))
		goto bad;
	sheets = cJSON_GetObjectItemCaseSensitive(root, "sheets");
	if (sheets == NULL)
	{
		fail(&c, "top level", "Add \"sheets\": [ ... ], one object per sheet.", "missing required key \"sheets\"%s", NULL);
		goto bad;
	}
	if (!cJSON_IsArray(sheets) || cJSON_GetArraySize(sheets) == 0)
	{
		fail(&c, "sheets", "Write a non-empty array of sheet objects.", "expected a non-empty array%s", NULL);
		goto bad;
	}
	l->nsheets = cJSON_GetArraySize(sheets);
	l->sheets = xcalloc(l->nsheets, sizeof(layout_sheet));
	cJSON_ArrayForEach(item, sheets)
	{
		char		place[64];

		snprintf(place, sizeof(place), "sheets[%d]", n);
		if (!parse_sheet(&c, &l->sheets[n], item, place))
			goto bad;
		for (int i = 0; i < n; i++)
			if (strcasecmp(l->sheets[i].name, l->sheets[n].name) == 0)
			{
				char		w[80];

				snprintf(w, sizeof(w), "sheets[%d].name", n);
				fail(&c, w, "Sheet names must differ (Excel ignores case).", "duplicate sheet name \"%s\"", l->sheets[n].name);
				goto bad;
			}
		n++;
	}
	cJSON_Delete(root);
	return l;

bad:
	cJSON_Delete(root);
	layout_free(l);
	return NULL;
}

layout *
layout_load(const char *path, report_error *err)
{
	char	   *text = read_file(path, err);
	layout	   *l;

	if (text == NULL)
	{
		set_hint(err, "Give the path of a layout file (reports/kpi.json or reports/compliance.json), or set \"layouts\" in the --config file.");
		return NULL;
	}
	l = layout_parse(path, text, err);
	free(text);
	return l;
}

void
layout_free(layout *l)
{
	if (l == NULL)
		return;
	for (int i = 0; i < l->nsheets; i++)
	{
		layout_sheet *s = &l->sheets[i];

		free(s->name);
		free(s->title);
		free(s->description);
		free(s->sql);
		free(s->empty_note);
		for (int j = 0; j < s->nrequires; j++)
			free(s->requires[j]);
		free(s->requires);
		for (int j = 0; j < s->ncolumns; j++)
			free(s->columns[j].header);
		free(s->columns);
		for (int j = 0; j < s->nconds; j++)
			free(s->conds[j].text);
		free(s->conds);
		for (int j = 0; j < s->ncharts; j++)
		{
			free(s->charts[j].title);
			free(s->charts[j].x_title);
			free(s->charts[j].y_title);
			free(s->charts[j].anchor);
			free(s->charts[j].series);
		}
		free(s->charts);
	}
	free(l->sheets);
	free(l->path);
	free(l->report);
	free(l->title);
	free(l->subject);
	free(l);
}
