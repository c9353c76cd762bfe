/*
 * config.h — the worker's configuration file (--config FILE, JSON).
 */
#ifndef MEDCRM_REPORT_CONFIG_H
#define MEDCRM_REPORT_CONFIG_H

#include <sys/types.h>

#include "util.h"

typedef struct report_config
{
	char	   *dbname;			/* libpq conninfo; NULL = PG* environment */
	char	   *layouts;		/* directory of kpi.json, compliance.json */
	char	   *tmpdir;			/* scratch files of constant_memory mode */
	int			fetch_rows;		/* rows per FETCH */

	/* medcrm-report daemon */
	char	   *outbox;			/* where finished workbooks land */
	int			poll_seconds;	/* longest sleep between looks at the queue */
	int			lease_seconds;	/* a claimed run is ours this long, renewed */
	int			retry_base_seconds; /* first retry delay, doubled per attempt */
	int			retry_max_seconds;	/* cap of the retry delay */
	int			time_rules_seconds; /* medcrm.run_time_rules() cadence; 0 = never */

	/* e-mail delivery ("smtp" object); smtp_url NULL = no e-mail */
	char	   *smtp_url;		/* smtp://host:port or smtps://host:port */
	char	   *smtp_from;		/* envelope and From: address */
	char	   *smtp_username;
	char	   *smtp_password;	/* never printed */
	char	   *smtp_ca_file;	/* CA bundle for the relay's certificate */
	bool		smtp_starttls;	/* require STARTTLS on smtp:// */
	int			smtp_timeout_seconds;
} report_config;

#define DEFAULT_FETCH_ROWS 5000
#define DEFAULT_POLL_SECONDS 60
#define DEFAULT_LEASE_SECONDS 300
#define DEFAULT_RETRY_BASE_SECONDS 60
#define DEFAULT_RETRY_MAX_SECONDS 3600
#define DEFAULT_SMTP_TIMEOUT_SECONDS 60

/* Defaults, then the file (when path is not NULL); false and err on a bad file. */
extern bool config_load(const char *path, report_config *cfg, report_error *err);
extern void config_defaults(report_config *cfg);
extern bool config_parse(const char *path, const char *text, report_config *cfg, report_error *err);
/*
 * A file holding a secret (the SMTP password, or a password in "dbname")
 * must not be readable by group or others: false and err when mode allows it.
 */
extern bool config_check_mode(const char *path, mode_t mode, const report_config *cfg,
							  report_error *err);
/* …and must belong to the daemon's effective user (or root). */
extern bool config_check_owner(const char *path, uid_t owner, uid_t euid,
							   const report_config *cfg, report_error *err);
/* Does a libpq conninfo (key=value or URI) carry a password? */
extern bool conninfo_has_password(const char *conninfo);
extern void config_free(report_config *cfg);

#endif
