/*
 * sla.c — SLA deadlines and service-team routing of new work orders.
 *
 * medcrm.work_order_set_deadlines() is a BEFORE INSERT ... FOR EACH ROW
 * trigger on medcrm.work_order. For every new row it fills what the
 * application left NULL:
 *   response_due_at = reported_at + sla_policy.response_hours
 *   resolve_due_at  = reported_at + sla_policy.resolve_hours
 *   assigned_team   = route_team(): region and kind, then a national team
 * where the policy row is chosen by the account's service_level and the
 * order's priority.
 *
 * Why a row trigger here, against medcrm's statement-level habit: the values
 * belong in the row being written. Setting them from an AFTER statement
 * trigger means an UPDATE of every new row (a second heap tuple and index
 * entries per work order, plus the audit trail seeing an extra change); the
 * row trigger costs one primary-key probe of medcrm.account per row and
 * nothing else. sla_policy and service_team are small: they are read once per
 * statement (command id) into memory. The account probe goes straight to the
 * primary-key index (as a foreign-key check does, without SPI), and accounts
 * already seen in the statement are remembered (up to 250,000) — see
 * docs/rules.md for the measurements behind this choice.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "medcrm.h"
#include "rules_logic.h"

PG_FUNCTION_INFO_V1(medcrm_work_order_set_deadlines);

#define N_LEVELS 4
static const char *const sla_levels[N_LEVELS] = {"platinum", "gold", "silver", "standard"};

/* What one statement needs, rebuilt when the command id changes. */
typedef struct SlaCache
{
	LocalTransactionId lxid;
	CommandId	cid;
	bool		valid;
	bool		have[N_LEVELS][4];
	double		response_hours[N_LEVELS][4];
	double		resolve_hours[N_LEVELS][4];
	int			nteams;
	RouteTeam  *teams;
	Oid			account_relid;
	Oid			account_pkey;
	AttrNumber	account_region;
	AttrNumber	account_level;
	HTAB	   *accounts;		/* account id -> AccountEntry */
} SlaCache;

/* What routing needs of an account, remembered for the statement. */
typedef struct AccountEntry
{
	int64		id;				/* hash key */
	bool		found;
	int			level;			/* index into sla_levels, -1 if unknown */
	char	   *region;			/* in cache_cxt, NULL if none */
} AccountEntry;

/* Bound on remembered accounts; the table is emptied when it is full. */
#define MAX_CACHED_ACCOUNTS 250000

static SlaCache cache;
static MemoryContext cache_cxt = NULL;

static int
level_index(const char *level)
{
	int			i;

	for (i = 0; i < N_LEVELS; i++)
		if (strcmp(sla_levels[i], level) == 0)
			return i;
	return -1;
}

static void
new_account_table(void)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(AccountEntry);
	ctl.hcxt = cache_cxt;
	cache.accounts = hash_create("medcrm SLA accounts", 1024, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

static void
load_cache(void)
{
	int			ret;
	uint64		i;
	Relation	rel;
	MemoryContext old;

	if (cache_cxt == NULL)
		cache_cxt = AllocSetContextCreate(TopMemoryContext, "medcrm SLA cache",
										  ALLOCSET_SMALL_SIZES);
	MemoryContextReset(cache_cxt);
	memset(&cache, 0, sizeof(cache));

	cache.account_relid = medcrm_relid("account");
	rel = table_open(cache.account_relid, AccessShareLock);
	cache.account_pkey = RelationGetPrimaryKeyIndex(rel);
	cache.account_region = SPI_fnumber(RelationGetDescr(rel), "region");
	cache.account_level = SPI_fnumber(RelationGetDescr(rel), "service_level");
	table_close(rel, AccessShareLock);

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));

	ret = SPI_execute("SELECT service_level, priority::int4, response_hours::float8, resolve_hours::float8"
					  " FROM medcrm.sla_policy", true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading medcrm.sla_policy failed: %s", SPI_result_code_string(ret));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int			lv = level_index(SPI_getvalue(tup, desc, 1));
		int			pr = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));

		if (lv < 0 || pr < 1 || pr > 4)
			continue;
		cache.have[lv][pr - 1] = true;
		cache.response_hours[lv][pr - 1] = DatumGetFloat8(SPI_getbinval(tup, desc, 3, &isnull));
		cache.resolve_hours[lv][pr - 1] = DatumGetFloat8(SPI_getbinval(tup, desc, 4, &isnull));
	}

	ret = SPI_execute("SELECT id, region, kinds FROM medcrm.service_team ORDER BY id",
					  true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading medcrm.service_team failed: %s", SPI_result_code_string(ret));
	old = MemoryContextSwitchTo(cache_cxt);
	cache.nteams = (int) SPI_processed;
	cache.teams = palloc0(sizeof(RouteTeam) * Max(cache.nteams, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		RouteTeam  *t = &cache.teams[i];
		bool		isnull;
		Datum		kinds;
		char	   *region;

		t->id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		region = SPI_getvalue(tup, desc, 2);
		t->region = region ? pstrdup(region) : NULL;
		kinds = SPI_getbinval(tup, desc, 3, &isnull);
		if (!isnull)
		{
			Datum	   *elems;
			bool	   *nulls;
			int			n,
						j;

			deconstruct_array(DatumGetArrayTypeP(kinds), TEXTOID, -1, false,
							  TYPALIGN_INT, &elems, &nulls, &n);
			t->kinds = palloc(sizeof(char *) * Max(n, 1));
			for (j = 0; j < n; j++)
				if (!nulls[j])
					t->kinds[t->nkinds++] = TextDatumGetCString(elems[j]);
		}
	}
	MemoryContextSwitchTo(old);
	SPI_finish();

	new_account_table();
	cache.lxid = MyProc->lxid;
	cache.cid = GetCurrentCommandId(false);
	cache.valid = true;
	elog(DEBUG1, "medcrm: SLA and routing cache loaded");
}

/*
 * Region and service level of an account: from the statement's table of
 * accounts already seen, else by a primary-key index probe (no SPI).
 */
static bool
lookup_account(int64 account_id, char **region, int *level)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	AccountEntry *e;
	bool		hit;

	e = hash_search(cache.accounts, &account_id, HASH_FIND, NULL);
	if (e == NULL)
	{
		if (hash_get_num_entries(cache.accounts) >= MAX_CACHED_ACCOUNTS)
		{
			hash_destroy(cache.accounts);
			new_account_table();
		}
		e = hash_search(cache.accounts, &account_id, HASH_ENTER, &hit);
		e->found = false;
		e->level = -1;
		e->region = NULL;

		rel = table_open(cache.account_relid, AccessShareLock);
		ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(account_id));
		scan = systable_beginscan(rel, cache.account_pkey, true, GetActiveSnapshot(), 1, &key);
		tup = systable_getnext(scan);
		if (HeapTupleIsValid(tup))
		{
			bool		isnull;
			Datum		d;

			e->found = true;
			d = heap_getattr(tup, cache.account_region, RelationGetDescr(rel), &isnull);
			if (!isnull)
			{
				MemoryContext old = MemoryContextSwitchTo(cache_cxt);

				e->region = TextDatumGetCString(d);
				MemoryContextSwitchTo(old);
			}
			d = heap_getattr(tup, cache.account_level, RelationGetDescr(rel), &isnull);
			if (!isnull)
			{
				char	   *lv = TextDatumGetCString(d);

				e->level = level_index(lv);
				pfree(lv);
			}
		}
		systable_endscan(scan);
		table_close(rel, AccessShareLock);
	}
	*region = e->region;
	*level = e->level;
	return e->found;
}

Datum
medcrm_work_order_set_deadlines(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	static Oid	cached_relid = InvalidOid;
	static uint64 cached_generation;
	static AttrNumber a_account,
				a_kind,
				a_priority,
				a_reported,
				a_response,
				a_resolve,
				a_team;
	TupleDesc	desc;
	HeapTuple	tuple;
	bool		isnull;
	bool		need_response,
				need_resolve,
				need_team;
	int64		account_id;
	char	   *region;
	int			level;
	int			priority;
	TimestampTz reported;
	int			cols[3];
	Datum		vals[3];
	bool		nulls[3] = {false, false, false};
	int			ncols = 0;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("work_order_set_deadlines() was not called by the trigger manager")));
	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("work_order_set_deadlines() must be fired BEFORE INSERT FOR EACH ROW")));

	desc = RelationGetDescr(trigdata->tg_relation);
	tuple = trigdata->tg_trigtuple;
	if (cached_relid != RelationGetRelid(trigdata->tg_relation) ||
		cached_generation != medcrm_relcache_generation)
	{
		a_account = SPI_fnumber(desc, "account_id");
		a_kind = SPI_fnumber(desc, "kind");
		a_priority = SPI_fnumber(desc, "priority");
		a_reported = SPI_fnumber(desc, "reported_at");
		a_response = SPI_fnumber(desc, "response_due_at");
		a_resolve = SPI_fnumber(desc, "resolve_due_at");
		a_team = SPI_fnumber(desc, "assigned_team");
		if (a_account <= 0 || a_kind <= 0 || a_priority <= 0 || a_reported <= 0 ||
			a_response <= 0 || a_resolve <= 0 || a_team <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					 errmsg("work_order_set_deadlines() fired on table \"%s\", which is not medcrm.work_order",
							RelationGetRelationName(trigdata->tg_relation))));
		cached_relid = RelationGetRelid(trigdata->tg_relation);
		cached_generation = medcrm_relcache_generation;
	}

	(void) heap_getattr(tuple, a_response, desc, &need_response);
	(void) heap_getattr(tuple, a_resolve, desc, &need_resolve);
	(void) heap_getattr(tuple, a_team, desc, &need_team);
	if (!need_response && !need_resolve && !need_team)
		return PointerGetDatum(tuple);

	if (!cache.valid || cache.lxid != MyProc->lxid || cache.cid != GetCurrentCommandId(false))
		load_cache();

	account_id = DatumGetInt64(heap_getattr(tuple, a_account, desc, &isnull));
	if (isnull || !lookup_account(account_id, &region, &level))
		return PointerGetDatum(tuple);	/* NOT NULL / foreign key will refuse it */

	priority = DatumGetInt16(heap_getattr(tuple, a_priority, desc, &isnull));
	reported = DatumGetTimestampTz(heap_getattr(tuple, a_reported, desc, &isnull));
	if (!isnull && level >= 0 && priority >= 1 && priority <= 4 && cache.have[level][priority - 1])
	{
		if (need_response)
		{
			cols[ncols] = a_response;
			vals[ncols++] = TimestampTzGetDatum(sla_deadline(reported,
															  cache.response_hours[level][priority - 1]));
		}
		if (need_resolve)
		{
			cols[ncols] = a_resolve;
			vals[ncols++] = TimestampTzGetDatum(sla_deadline(reported,
															  cache.resolve_hours[level][priority - 1]));
		}
	}
	if (need_team)
	{
		Datum		kd = heap_getattr(tuple, a_kind, desc, &isnull);
		char	   *kind = isnull ? NULL : TextDatumGetCString(kd);
		int			t = kind ? route_team(cache.teams, cache.nteams, region, kind) : -1;

		if (t >= 0)
		{
			cols[ncols] = a_team;
			vals[ncols++] = Int64GetDatum(cache.teams[t].id);
		}
	}
	if (ncols == 0)
		return PointerGetDatum(tuple);
	return PointerGetDatum(heap_modify_tuple_by_cols(tuple, desc, ncols, cols, vals, nulls));
}
