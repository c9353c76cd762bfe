/*
 * config.c — the worker's configuration file (--config FILE).
 *
 * A small JSON object; command-line options win over it:
 *   { "dbname": "service=medcrm", "layouts": "/etc/medcrm/reports",
 *     "tmpdir": "/var/tmp", "fetch_rows": 5000 }
 * Unknown keys and wrong types are configuration errors (exit 2), reported
 * with the file, the key and the fix.
 */
#include "config.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static bool
string_key(const char *path, const cJSON *root, const char *key, char **out,
		   const char *example, report_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);

	if (v == NULL)
		return true;
	if (!cJSON_IsString(v) || v->valuestring[0] == '\0')
	{
		set_error(err, "%s: \"%s\": expected a non-empty string", path, key);
		set_hint(err, "Write it in double quotes, e.g. \"%s\": \"%s\".", key, example);
		return false;
	}
	free(*out);
	*out = xstrdup(v->valuestring);
	return true;
}

bool
config_parse(const char *path, const char *text, report_config *cfg, report_error *err)
{
	static const char *const keys[] = {"dbname", "layouts", "tmpdir", "fetch_rows", NULL};
	const char *end = NULL;
	cJSON	   *root = cJSON_ParseWithOpts(text, &end, true);
	const cJSON *item;
	bool		ok = false;

	if (root == NULL)
	{
		int			line,
					col;

		text_position(text, end ? (size_t) (end - text) : 0, &line, &col);
		set_error(err, "%s: line %d, column %d: JSON syntax error", path, line, col);
		set_hint(err, "Check the punctuation just before this place: a missing comma or quote, or a trailing comma.");
		return false;
	}
	if (!cJSON_IsObject(root))
	{
		set_error(err, "%s: top level: expected an object", path);
		set_hint(err, "Write a JSON object such as {\"dbname\": \"service=medcrm\"}.");
		goto done;
	}
	cJSON_ArrayForEach(item, root)
	{
		bool		known = false;

		for (int i = 0; keys[i]; i++)
			known |= strcmp(item->string, keys[i]) == 0;
		if (!known)
		{
			set_error(err, "%s: unknown key \"%s\"", path, item->string);
			set_hint(err, "Allowed keys: dbname, layouts, tmpdir, fetch_rows (names are case-sensitive).");
			goto done;
		}
	}
	if (!string_key(path, root, "dbname", &cfg->dbname, "service=medcrm", err) ||
		!string_key(path, root, "layouts", &cfg->layouts, "/etc/medcrm/reports", err) ||
		!string_key(path, root, "tmpdir", &cfg->tmpdir, "/var/tmp", err))
		goto done;
	item = cJSON_GetObjectItemCaseSensitive(root, "fetch_rows");
	if (item)
	{
		if (!cJSON_IsNumber(item) || item->valuedouble < 100 || item->valuedouble > 1000000 ||
			item->valuedouble != (double) item->valueint)
		{
			set_error(err, "%s: \"fetch_rows\": expected a whole number from 100 to 1000000", path);
			set_hint(err, "Write a number without quotes, e.g. \"fetch_rows\": 5000.");
			goto done;
		}
		cfg->fetch_rows = item->valueint;
	}
	ok = true;
done:
	cJSON_Delete(root);
	return ok;
}

bool
config_load(const char *path, report_config *cfg, report_error *err)
{
	char	   *text;
	bool		ok;

	memset(cfg, 0, sizeof(*cfg));
	cfg->fetch_rows = DEFAULT_FETCH_ROWS;
	if (path == NULL)
		return true;
	text = read_file(path, err);
	if (text == NULL)
	{
		set_hint(err, "Give the path of a readable JSON file to --config.");
		return false;
	}
	ok = config_parse(path, text, cfg, err);
	free(text);
	return ok;
}

void
config_free(report_config *cfg)
{
	free(cfg->dbname);
	free(cfg->layouts);
	free(cfg->tmpdir);
	memset(cfg, 0, sizeof(*cfg));
}
