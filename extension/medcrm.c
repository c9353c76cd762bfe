/*
 * medcrm.c — module entry point of the medcrm extension.
 *
 * Holds PG_MODULE_MAGIC and _PG_init. Every capability (scoring, tasks, audit,
 * ...) lives in its own file in this directory; _PG_init only calls the
 * initialisers that need to run when the library is loaded (settings).
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "fmgr.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"

#include "medcrm.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* See medcrm.h; bumped by every relcache invalidation this backend sees. */
uint64		medcrm_relcache_generation = 0;

static void
bump_relcache_generation(Datum arg, Oid relid)
{
	medcrm_relcache_generation++;
}

void
_PG_init(void)
{
	medcrm_scoring_init();
	medcrm_audit_init();
	CacheRegisterRelcacheCallback(bump_relcache_generation, (Datum) 0);
}

Oid
medcrm_relid(const char *relname)
{
	Oid			relid = get_relname_relid(relname, get_namespace_oid("medcrm", false));

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"medcrm.%s\" does not exist", relname),
				 errhint("Reinstall the extension medcrm.")));
	return relid;
}
