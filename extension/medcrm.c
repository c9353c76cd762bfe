/*
 * medcrm.c — module entry point of the medcrm extension.
 *
 * Holds PG_MODULE_MAGIC and _PG_init. Every capability (scoring, tasks, audit,
 * ...) lives in its own file in this directory; _PG_init only calls the
 * initialisers that need to run when the library is loaded (settings).
 */
#include "postgres.h"

#include "fmgr.h"

#include "medcrm.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	medcrm_scoring_init();
	medcrm_audit_init();
}
