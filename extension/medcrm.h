/*
 * medcrm.h — declarations shared between the C files of the medcrm extension.
 */
#ifndef MEDCRM_H
#define MEDCRM_H

#include "executor/spi.h"

/* spi_plans.c: prepare a statement once and keep it for the backend. */
extern SPIPlanPtr medcrm_keep_plan(const char *sql, int nargs, Oid *argtypes);
extern SPIPlanPtr medcrm_keep_plan_opts(const char *sql, int nargs, Oid *argtypes,
										int cursor_options);

/* medcrm.c: the OID of the table medcrm.<relname>; undefined_table if missing. */
extern Oid	medcrm_relid(const char *relname);

/*
 * medcrm.c: changes with every relcache invalidation (ALTER TABLE among
 * them). Row triggers that remember the column numbers of their table keep
 * this next to them and look the columns up again when it has moved.
 */
extern uint64 medcrm_relcache_generation;

/* scoring_sql.c: settings of tier scoring */
extern void medcrm_scoring_init(void);
/* audit.c: settings of the audit trail (medcrm.reason, retention). */
extern void medcrm_audit_init(void);

#endif							/* MEDCRM_H */
