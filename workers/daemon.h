/*
 * daemon.h — medcrm-report daemon: scheduled and requested runs from the
 * report_run queue, published into an outbox and e-mailed.
 */
#ifndef MEDCRM_REPORT_DAEMON_H
#define MEDCRM_REPORT_DAEMON_H

#include "config.h"

/* Run the daemon (until SIGTERM/SIGINT, or one pass with once); an exit code. */
extern int	daemon_main(const report_config *cfg, bool once);
/* --check: the config, the outbox, the layouts and the database; 0 or 2. */
extern int	daemon_check(const report_config *cfg);

/* main.c: the layout file of a report (the "layouts" directory or the installed one). */
extern char *find_layout(const char *dir_option, const char *report);

#endif
