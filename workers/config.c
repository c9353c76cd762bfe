/*
 * config.c — the worker's configuration file (--config FILE).
 *
 * A small JSON object; command-line options win over it:
 *   { "dbname": "service=medcrm", "layouts": "/etc/medcrm/reports",
 *     "tmpdir": "/var/tmp", "fetch_rows": 5000,
 *     "outbox": "/var/lib/medcrm/outbox", "poll_seconds": 60,
 *     "lease_seconds": 300, "retry_base_seconds": 60, "retry_max_seconds": 3600,
 *     "time_rules_seconds": 0,
 *     "smtp": { "url": "smtp://mail.example.com:587", "starttls": true,
 *               "from": "reports@example.com", "username": "reports",
 *               "password": "…", "ca_file": "/etc/ssl/certs/ca-certificates.crt",
 *               "timeout_seconds": 60 } }
 * Unknown keys and wrong types are configuration errors (exit 2), reported
 * with the file, the key and the fix. SMTP credentials are only accepted
 * with TLS (smtps:// or "starttls": true): a login over a plain connection
 * would show the password to the network. A file holding a secret (the SMTP
 * password, or a password inside "dbname") must belong to the daemon's user
 * (or root) and must not be accessible by group or others (config_check_mode,
 * config_check_owner). Parsing is pure (unit tested); only config_load reads
 * the file.
 */
#include "config.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool
string_key(const char *path, const cJSON *root, const char *prefix, const char *key,
		   char **out, const char *example, report_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);

	if (v == NULL)
		return true;
	if (!cJSON_IsString(v) || v->valuestring[0] == '\0')
	{
		set_error(err, "%s: \"%s%s\": expected a non-empty string", path, prefix, key);
		set_hint(err, "Write it in double quotes, e.g. \"%s\": \"%s\".", key, example);
		return false;
	}
	free(*out);
	*out = xstrdup(v->valuestring);
	return true;
}

static bool
int_key(const char *path, const cJSON *root, const char *prefix, const char *key,
		int *out, int min, int max, int example, report_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);

	if (v == NULL)
		return true;
	if (!cJSON_IsNumber(v) || v->valuedouble < min || v->valuedouble > max ||
		v->valuedouble != (double) v->valueint)
	{
		set_error(err, "%s: \"%s%s\": expected a whole number from %d to %d", path, prefix, key, min, max);
		set_hint(err, "Write a number without quotes, e.g. \"%s\": %d.", key, example);
		return false;
	}
	*out = v->valueint;
	return true;
}

static bool
known_keys(const char *path, const cJSON *obj, const char *prefix,
		   const char *const *keys, const char *list, report_error *err)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, obj)
	{
		bool		known = false;

		for (int i = 0; keys[i]; i++)
			known |= strcmp(item->string, keys[i]) == 0;
		if (!known)
		{
			set_error(err, "%s: unknown key \"%s%s\"", path, prefix, item->string);
			set_hint(err, "Allowed keys%s: %s (names are case-sensitive).",
					 prefix[0] ? " in \"smtp\"" : "", list);
			return false;
		}
	}
	return true;
}

static bool
parse_smtp(const char *path, const cJSON *smtp, report_config *cfg, report_error *err)
{
	static const char *const keys[] = {"url", "from", "username", "password", "ca_file",
	"starttls", "timeout_seconds", NULL};
	const cJSON *v;
	const char *rest;

	if (!cJSON_IsObject(smtp))
	{
		set_error(err, "%s: \"smtp\": expected an object", path);
		set_hint(err, "Write e.g. \"smtp\": {\"url\": \"smtp://mail.example.com:587\", \"from\": \"reports@example.com\", \"starttls\": true}.");
		return false;
	}
	if (!known_keys(path, smtp, "smtp.", keys,
					"url, from, username, password, ca_file, starttls, timeout_seconds", err) ||
		!string_key(path, smtp, "smtp.", "url", &cfg->smtp_url, "smtp://mail.example.com:587", err) ||
		!string_key(path, smtp, "smtp.", "from", &cfg->smtp_from, "reports@example.com", err) ||
		!string_key(path, smtp, "smtp.", "username", &cfg->smtp_username, "reports", err) ||
		!string_key(path, smtp, "smtp.", "password", &cfg->smtp_password, "secret", err) ||
		!string_key(path, smtp, "smtp.", "ca_file", &cfg->smtp_ca_file, "/etc/ssl/certs/ca-certificates.crt", err) ||
		!int_key(path, smtp, "smtp.", "timeout_seconds", &cfg->smtp_timeout_seconds, 1, 3600, 60, err))
		return false;
	v = cJSON_GetObjectItemCaseSensitive(smtp, "starttls");
	if (v)
	{
		if (!cJSON_IsBool(v))
		{
			set_error(err, "%s: \"smtp.starttls\": expected true or false", path);
			set_hint(err, "Write it without quotes, e.g. \"starttls\": true.");
			return false;
		}
		cfg->smtp_starttls = cJSON_IsTrue(v);
	}
	if (cfg->smtp_url == NULL || cfg->smtp_from == NULL)
	{
		set_error(err, "%s: \"smtp\": \"%s\" is required", path, cfg->smtp_url ? "from" : "url");
		set_hint(err, "An \"smtp\" object needs at least \"url\" (smtp://host:port) and \"from\" (the sender's address).");
		return false;
	}
	if (strncmp(cfg->smtp_url, "smtp://", 7) == 0)
		rest = cfg->smtp_url + 7;
	else if (strncmp(cfg->smtp_url, "smtps://", 8) == 0)
		rest = cfg->smtp_url + 8;
	else
	{
		set_error(err, "%s: \"smtp.url\": expected smtp://HOST[:PORT] or smtps://HOST[:PORT]", path);
		set_hint(err, "For a relay with STARTTLS on port 587 write \"url\": \"smtp://mail.example.com:587\", \"starttls\": true.");
		return false;
	}
	if (*rest == '\0' || *rest == '/' || strchr(rest, '@') != NULL)
	{
		set_error(err, "%s: \"smtp.url\": expected smtp://HOST[:PORT] without user or password", path);
		set_hint(err, "Put the credentials in \"username\" and \"password\", never in the URL.");
		return false;
	}
	if (strchr(cfg->smtp_from, '@') == NULL || strpbrk(cfg->smtp_from, " <>\r\n") != NULL)
	{
		set_error(err, "%s: \"smtp.from\": expected a plain e-mail address", path);
		set_hint(err, "Write e.g. \"from\": \"reports@example.com\".");
		return false;
	}
	if ((cfg->smtp_password != NULL) != (cfg->smtp_username != NULL))
	{
		set_error(err, "%s: \"smtp\": \"username\" and \"password\" go together", path);
		set_hint(err, "Give both to log in to the relay, or neither for a relay that accepts this host.");
		return false;
	}
	if (cfg->smtp_username != NULL && !cfg->smtp_starttls &&
		strncmp(cfg->smtp_url, "smtps://", 8) != 0)
	{
		set_error(err, "%s: \"smtp\": a login needs TLS, but \"url\" is smtp:// and \"starttls\" is false", path);
		set_hint(err, "Set \"starttls\": true for a relay on port 587, or write \"url\": \"smtps://HOST:465\"; the password is never sent over a plain connection.");
		return false;
	}
	return true;
}

bool
config_parse(const char *path, const char *text, report_config *cfg, report_error *err)
{
	static const char *const keys[] = {"dbname", "layouts", "tmpdir", "fetch_rows", "outbox",
		"poll_seconds", "lease_seconds", "retry_base_seconds", "retry_max_seconds",
	"time_rules_seconds", "smtp", NULL};
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
	if (!known_keys(path, root, "", keys,
					"dbname, layouts, tmpdir, fetch_rows, outbox, poll_seconds, lease_seconds, "
					"retry_base_seconds, retry_max_seconds, time_rules_seconds, smtp", err))
		goto done;
	if (!string_key(path, root, "", "dbname", &cfg->dbname, "service=medcrm", err) ||
		!string_key(path, root, "", "layouts", &cfg->layouts, "/etc/medcrm/reports", err) ||
		!string_key(path, root, "", "tmpdir", &cfg->tmpdir, "/var/tmp", err) ||
		!string_key(path, root, "", "outbox", &cfg->outbox, "/var/lib/medcrm/outbox", err))
		goto done;
	if (!int_key(path, root, "", "fetch_rows", &cfg->fetch_rows, 100, 1000000, 5000, err) ||
		!int_key(path, root, "", "poll_seconds", &cfg->poll_seconds, 1, 86400, 60, err) ||
		!int_key(path, root, "", "lease_seconds", &cfg->lease_seconds, 2, 86400, 300, err) ||
		!int_key(path, root, "", "retry_base_seconds", &cfg->retry_base_seconds, 0, 86400, 60, err) ||
		!int_key(path, root, "", "retry_max_seconds", &cfg->retry_max_seconds, 0, 604800, 3600, err) ||
		!int_key(path, root, "", "time_rules_seconds", &cfg->time_rules_seconds, 0, 604800, 86400, err))
		goto done;
	if (cfg->retry_max_seconds < cfg->retry_base_seconds)
	{
		set_error(err, "%s: \"retry_max_seconds\" (%d) is less than \"retry_base_seconds\" (%d)",
				  path, cfg->retry_max_seconds, cfg->retry_base_seconds);
		set_hint(err, "The cap of the backoff must be at least its first delay, e.g. 60 and 3600.");
		goto done;
	}
	item = cJSON_GetObjectItemCaseSensitive(root, "smtp");
	if (item && !parse_smtp(path, item, cfg, err))
		goto done;
	ok = true;
done:
	cJSON_Delete(root);
	return ok;
}

/*
 * Does a libpq connection string carry a password: a "password" keyword
 * (password=..., blanks allowed around '=') or a URI with user:password@ in
 * its authority or password=... among its parameters?
 */
bool
conninfo_has_password(const char *conninfo)
{
	const char *p;

	if (conninfo == NULL)
		return false;
	if (strncmp(conninfo, "postgresql://", 13) == 0 || strncmp(conninfo, "postgres://", 11) == 0)
	{
		const char *auth = strstr(conninfo, "://") + 3;
		size_t		len = strcspn(auth, "/?");
		const char *at = NULL;
		const char *q;

		for (size_t i = 0; i < len; i++)
			if (auth[i] == '@')
				at = auth + i;
		if (at != NULL && memchr(auth, ':', (size_t) (at - auth)) != NULL)
			return true;
		q = auth[len] == '/' ? strchr(auth + len, '?') : (auth[len] == '?' ? auth + len : NULL);
		for (; q != NULL; q = strchr(q + 1, '&'))
			if (strncmp(q + 1, "password=", 9) == 0)
				return true;
		return false;
	}
	for (p = conninfo; (p = strstr(p, "password")) != NULL; p += 8)
	{
		const char *r = p + 8;

		if (p != conninfo && !isspace((unsigned char) p[-1]))
			continue;
		while (isspace((unsigned char) *r))
			r++;
		if (*r == '=')
			return true;
	}
	return false;
}

/* The secret a configuration holds, for messages; NULL when none. */
static const char *
config_secret(const report_config *cfg)
{
	if (cfg->smtp_password != NULL)
		return "the SMTP password";
	if (conninfo_has_password(cfg->dbname))
		return "a database password (in \"dbname\")";
	return NULL;
}

bool
config_check_mode(const char *path, mode_t mode, const report_config *cfg, report_error *err)
{
	const char *secret = config_secret(cfg);

	if (secret == NULL || (mode & (S_IRWXG | S_IRWXO)) == 0)
		return true;
	set_error(err, "%s: holds %s but is accessible by group or others (mode %04o)",
			  path, secret, (unsigned int) (mode & 07777));
	set_hint(err, "Make it readable by the daemon's user only: chmod 600 %s", path);
	return false;
}

bool
config_check_owner(const char *path, uid_t owner, uid_t euid, const report_config *cfg,
				   report_error *err)
{
	const char *secret = config_secret(cfg);

	if (secret == NULL || owner == euid || owner == 0)
		return true;
	set_error(err, "%s: holds %s but belongs to user %u, not to the daemon's user %u",
			  path, secret, (unsigned int) owner, (unsigned int) euid);
	set_hint(err, "Give it to the daemon's user (chown %u %s) or to root, with chmod 600.",
			 (unsigned int) euid, path);
	return false;
}

void
config_defaults(report_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->fetch_rows = DEFAULT_FETCH_ROWS;
	cfg->poll_seconds = DEFAULT_POLL_SECONDS;
	cfg->lease_seconds = DEFAULT_LEASE_SECONDS;
	cfg->retry_base_seconds = DEFAULT_RETRY_BASE_SECONDS;
	cfg->retry_max_seconds = DEFAULT_RETRY_MAX_SECONDS;
	cfg->smtp_timeout_seconds = DEFAULT_SMTP_TIMEOUT_SECONDS;
}

bool
config_load(const char *path, report_config *cfg, report_error *err)
{
	char	   *text;
	bool		ok;
	struct stat st;

	config_defaults(cfg);
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
	if (ok && stat(path, &st) == 0)
		ok = config_check_mode(path, st.st_mode, cfg, err) &&
			config_check_owner(path, st.st_uid, geteuid(), cfg, err);
	return ok;
}

void
config_free(report_config *cfg)
{
	free(cfg->dbname);
	free(cfg->layouts);
	free(cfg->tmpdir);
	free(cfg->outbox);
	free(cfg->smtp_url);
	free(cfg->smtp_from);
	free(cfg->smtp_username);
	if (cfg->smtp_password)
		memset(cfg->smtp_password, 0, strlen(cfg->smtp_password));
	free(cfg->smtp_password);
	free(cfg->smtp_ca_file);
	memset(cfg, 0, sizeof(*cfg));
}
