/*
 * config.h — the worker's configuration file (--config FILE, JSON).
 */
#ifndef MEDCRM_REPORT_CONFIG_H
#define MEDCRM_REPORT_CONFIG_H

#include "util.h"

typedef struct report_config
{
	char	   *dbname;			/* libpq conninfo; NULL = PG* environment */
	char	   *layouts;		/* directory of kpi.json, compliance.json */
	char	   *tmpdir;			/* scratch files of constant_memory mode */
	int			fetch_rows;		/* rows per FETCH */
} report_config;

#define DEFAULT_FETCH_ROWS 5000

/* Defaults, then the file (when path is not NULL); false and err on a bad file. */
extern bool config_load(const char *path, report_config *cfg, report_error *err);
extern bool config_parse(const char *path, const char *text, report_config *cfg, report_error *err);
extern void config_free(report_config *cfg);

#endif
