/*
 * rules.c — rule-driven tasks: the SPI and trigger layer of the rule engine.
 *
 * Events reach the engine in two ways:
 *   - statement-level AFTER triggers (medcrm.fire_rules()) on opportunity,
 *     contract, work_order, recall, sample_loan and tier_history read the
 *     statement's transition table once, so a COPY of a million rows costs
 *     one query and a few batched INSERTs, not a million trigger calls;
 *   - medcrm.run_time_rules(as_of) for what time alone triggers (renewal
 *     windows, expired contracts, certificate, registration and warranty
 *     expiry, overdue sample loans, SLA breaches, data-quality findings).
 *
 * Both run the same engine: load the enabled rules of the event (conditions
 * and templates parsed once, rules_logic.c), open a cursor over the event's
 * source query (one row per candidate event, columns named after condition
 * keys and placeholders), match and render every row in C, and insert the
 * tasks in batches with INSERT ... SELECT FROM unnest(...) ON CONFLICT
 * (dedupe_key) DO NOTHING. The dedupe key is rule + source row + occurrence,
 * so re-firing, re-running and concurrent writers never create a task twice.
 * Before rendering, the keys of the matches are looked up in medcrm.task so
 * that rows already tasked cost no rendering and no insert.
 *
 * run_time_rules() puts a find step in front (evaluate_time()): a lean,
 * parallel-capable query without the template columns finds the matches and
 * their keys, and only the source rows without a task are read again in full
 * and rendered. The daily re-run that finds nothing new costs about as much
 * as the bare query that finds the due rows.
 *
 * The functions that write tasks are SECURITY DEFINER (see 30_rules.sql): the
 * writers of business rows (medcrm_sales, medcrm_service, medcrm_quality)
 * may not insert tasks themselves.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/params.h"
#include "nodes/pg_list.h"
#include "tcop/dest.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "medcrm.h"
#include "rules_logic.h"

PG_FUNCTION_INFO_V1(medcrm_rule_validate);
PG_FUNCTION_INFO_V1(medcrm_task_set_done_at);
PG_FUNCTION_INFO_V1(medcrm_fire_rules);
PG_FUNCTION_INFO_V1(medcrm_run_time_rules);

/* Tasks are inserted in batches of this many rows. */
#define TASK_BATCH 5000
/* Rows fetched from a source cursor at a time. */
#define FETCH_BATCH 5000
/* Dedupe keys looked up at a time by run_time_rules(). */
#define PROBE_BATCH 100000

typedef enum RuleMode
{
	MODE_WRITE,					/* rules a table trigger evaluates */
	MODE_TIME					/* rules run_time_rules() evaluates */
} RuleMode;

typedef struct CompiledRule
{
	int32		id;
	char	   *name;
	char	   *task_kind;
	int16		priority;
	Interval	due_offset;
	AssigneeMode mode;
	char	   *role;
	RuleCondition cond;
	RuleTemplate tmpl;
	int		   *clause_col;		/* result column of each clause */
	int		   *ph_col;			/* result column of each placeholder, 0 if none */
} CompiledRule;

typedef struct RuleSet
{
	const RuleEventSpec *spec;
	int			nrules;
	CompiledRule *rules;
	int32		max_within;		/* largest within_days of the rules */
	int32		min_overdue;	/* smallest days_overdue of the rules */
	const char *guard;			/* int column that must be >= guard_min, or NULL */
	int32		guard_min;
	int			guard_col;
} RuleSet;

typedef struct TaskBatch
{
	int			n;
	Datum		account_id[TASK_BATCH];
	bool		account_null[TASK_BATCH];
	Datum		kind[TASK_BATCH];
	Datum		title[TASK_BATCH];
	Datum		due_at[TASK_BATCH];
	bool		due_null[TASK_BATCH];
	Datum		assignee[TASK_BATCH];
	bool		assignee_null[TASK_BATCH];
	Datum		priority[TASK_BATCH];
	Datum		source_table[TASK_BATCH];
	bool		source_table_null[TASK_BATCH];
	Datum		source_id[TASK_BATCH];
	bool		source_id_null[TASK_BATCH];
	Datum		rule_id[TASK_BATCH];
	Datum		dedupe[TASK_BATCH];
	Datum		device_id[TASK_BATCH];
	bool		device_null[TASK_BATCH];
	uint64		inserted;
	MemoryContext cxt;			/* values of the pending batch */
} TaskBatch;

static SPIPlanPtr rules_plan = NULL;
static SPIPlanPtr insert_plan = NULL;

/* ---------------------------------------------------------------------
 * Loading and compiling rules
 * ---------------------------------------------------------------------
 */

static void
load_rules(RuleEvent event, RuleMode mode, RuleSet *set)
{
	const RuleEventSpec *spec = &rule_event_specs[event];
	Datum		arg[1];
	int			ret;
	uint64		i;

	if (rules_plan == NULL)
	{
		Oid			types[1] = {TEXTOID};

		rules_plan = medcrm_keep_plan("SELECT id, name, condition, task_kind, title_template, due_offset,"
									  "       assignee, priority::int4"
									  "  FROM medcrm.rule"
									  " WHERE enabled AND event OPERATOR(pg_catalog.=) $1"
									  " ORDER BY id", 1, types);
	}

	arg[0] = CStringGetTextDatum(spec->name);
	ret = SPI_execute_plan(rules_plan, arg, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading medcrm.rule failed: %s", SPI_result_code_string(ret));

	set->spec = spec;
	set->guard = NULL;
	set->guard_min = 0;
	set->guard_col = 0;
	set->nrules = 0;
	set->rules = palloc0(sizeof(CompiledRule) * Max(SPI_processed, 1));
	set->max_within = 0;
	set->min_overdue = PG_INT32_MAX;

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		CompiledRule *r = &set->rules[set->nrules];
		bool		isnull;
		bool		time_rule;
		int			c;

		r->id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		r->name = SPI_getvalue(tup, desc, 2);
		rule_condition_parse(spec, DatumGetJsonbP(SPI_getbinval(tup, desc, 3, &isnull)), &r->cond);
		time_rule = rule_is_time_rule(spec, &r->cond);
		/* contract events are evaluated by both the trigger and the clock */
		if ((mode == MODE_TIME && !time_rule) ||
			(mode == MODE_WRITE && time_rule && !(spec->time_driven && spec->write_driven)))
			continue;
		r->task_kind = SPI_getvalue(tup, desc, 4);
		rule_template_parse(spec, SPI_getvalue(tup, desc, 5), &r->tmpl);
		memcpy(&r->due_offset, DatumGetIntervalP(SPI_getbinval(tup, desc, 6, &isnull)),
			   sizeof(Interval));
		r->role = SPI_getvalue(tup, desc, 7);
		r->mode = rule_assignee_parse(spec, r->role);
		r->priority = (int16) DatumGetInt32(SPI_getbinval(tup, desc, 8, &isnull));
		for (c = 0; c < r->cond.nclauses; c++)
		{
			const CondClause *cl = &r->cond.clauses[c];

			if (cl->spec->kind == COND_WITHIN_DAYS)
				set->max_within = Max(set->max_within, cl->threshold);
		}
		/* days_overdue: a rule without the key matches from the first day */
		for (c = 0; c < r->cond.nclauses; c++)
			if (r->cond.clauses[c].spec->kind == COND_DAYS_OVERDUE)
				break;
		set->min_overdue = Min(set->min_overdue,
							   c < r->cond.nclauses ? r->cond.clauses[c].threshold : 0);
		set->nrules++;
	}
	if (set->min_overdue == PG_INT32_MAX)
		set->min_overdue = 0;
	SPI_freetuptable(SPI_tuptable);
}

/* ---------------------------------------------------------------------
 * Inserting tasks
 * ---------------------------------------------------------------------
 */

static Datum
make_array(Datum *values, bool *nulls, int n, Oid type)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			dims[1] = {n};
	int			lbs[1] = {1};

	get_typlenbyvalalign(type, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_md_array(values, nulls, 1, dims, lbs, type,
											  typlen, typbyval, typalign));
}

/* An empty batch (its arrays are filled up to n, so they need no zeroing). */
static TaskBatch *
task_batch_new(void)
{
	TaskBatch  *b = palloc(sizeof(TaskBatch));

	b->n = 0;
	b->inserted = 0;
	b->cxt = AllocSetContextCreate(CurrentMemoryContext, "medcrm task batch",
								   ALLOCSET_DEFAULT_SIZES);
	return b;
}

static void
flush_tasks(TaskBatch *b)
{
	Datum		args[11];
	bool		kind_null[TASK_BATCH];
	int			ret;

	if (b->n == 0)
		return;
	if (insert_plan == NULL)
	{
		Oid			types[11] = {INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID,
			TEXTARRAYOID, INT2ARRAYOID, TEXTARRAYOID, INT8ARRAYOID, INT4ARRAYOID,
		TEXTARRAYOID, INT8ARRAYOID};

		insert_plan = medcrm_keep_plan("INSERT INTO medcrm.task (account_id, kind, title, due_at, assignee_role,"
									   "                         priority, source_table, source_id, rule_id,"
									   "                         dedupe_key, device_id) "
									   "SELECT * FROM unnest($1, $2, $3, $4, $5::pg_catalog.name[], $6,"
									   "                                $7, $8, $9, $10, $11)"
									   "    ON CONFLICT (dedupe_key) DO NOTHING", 11, types);
	}
	memset(kind_null, 0, sizeof(bool) * b->n);
	args[0] = make_array(b->account_id, b->account_null, b->n, INT8OID);
	args[1] = make_array(b->kind, kind_null, b->n, TEXTOID);
	args[2] = make_array(b->title, kind_null, b->n, TEXTOID);
	args[3] = make_array(b->due_at, b->due_null, b->n, TIMESTAMPTZOID);
	args[4] = make_array(b->assignee, b->assignee_null, b->n, TEXTOID);
	args[5] = make_array(b->priority, kind_null, b->n, INT2OID);
	args[6] = make_array(b->source_table, b->source_table_null, b->n, TEXTOID);
	args[7] = make_array(b->source_id, b->source_id_null, b->n, INT8OID);
	args[8] = make_array(b->rule_id, kind_null, b->n, INT4OID);
	args[9] = make_array(b->dedupe, kind_null, b->n, TEXTOID);
	args[10] = make_array(b->device_id, b->device_null, b->n, INT8OID);

	ret = SPI_execute_plan(insert_plan, args, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "inserting tasks failed: %s", SPI_result_code_string(ret));
	b->inserted += SPI_processed;
	b->n = 0;
	MemoryContextReset(b->cxt);
}

/* ---------------------------------------------------------------------
 * The engine: rules x source rows -> tasks
 * ---------------------------------------------------------------------
 */

/* The column of a name in the source query, or 0. */
static int
column_of(TupleDesc desc, const char *name)
{
	int			c = SPI_fnumber(desc, name);

	return c > 0 ? c : 0;
}

static void
resolve_columns(RuleSet *set, TupleDesc desc)
{
	int			i;

	for (i = 0; i < set->nrules; i++)
	{
		CompiledRule *r = &set->rules[i];
		int			n = rule_placeholder_count(set->spec);
		int			c;

		r->clause_col = palloc0(sizeof(int) * Max(r->cond.nclauses, 1));
		for (c = 0; c < r->cond.nclauses; c++)
		{
			const CondKeySpec *k = r->cond.clauses[c].spec;
			const char *col = k->kind == COND_WITHIN_DAYS ? "days_left" :
				k->kind == COND_DAYS_OVERDUE ? "days_overdue" : k->key;

			r->clause_col[c] = column_of(desc, col);
			if (r->clause_col[c] == 0)
				elog(ERROR, "source query of event %s has no column %s", set->spec->name, col);
		}
		r->ph_col = palloc0(sizeof(int) * n);
		for (c = RULE_PH_FIRST_COLUMN; c < n; c++)
			r->ph_col[c] = column_of(desc, rule_placeholder_name(set->spec, c));
	}
}

/*
 * The current row: a tuple of an SPI result, or the slot a DestReceiver is
 * handed (find_receive()). Text of a column is computed once per row.
 */
typedef struct RowValues
{
	HeapTuple	tup;
	TupleTableSlot *slot;
	TupleDesc	desc;
	char	  **text;
	bool	   *done;
} RowValues;

static Datum
row_binval(RowValues *rv, int col, bool *isnull)
{
	if (rv->slot != NULL)
		return slot_getattr(rv->slot, col, isnull);
	return SPI_getbinval(rv->tup, rv->desc, col, isnull);
}

static const char *
row_text(RowValues *rv, int col)
{
	if (col <= 0)
		return NULL;
	if (!rv->done[col])
	{
		if (rv->slot != NULL)
		{
			bool		isnull;
			Datum		d = slot_getattr(rv->slot, col, &isnull);

			rv->text[col] = NULL;
			if (!isnull)
			{
				Oid			typoutput;
				bool		varlena;

				getTypeOutputInfo(TupleDescAttr(rv->desc, col - 1)->atttypid,
								  &typoutput, &varlena);
				rv->text[col] = OidOutputFunctionCall(typoutput, d);
			}
		}
		else
			rv->text[col] = SPI_getvalue(rv->tup, rv->desc, col);
		rv->done[col] = true;
	}
	return rv->text[col];
}

static bool
rule_matches(CompiledRule *r, RowValues *rv)
{
	int			c;

	for (c = 0; c < r->cond.nclauses; c++)
	{
		const CondClause *cl = &r->cond.clauses[c];

		if (cl->spec->kind == COND_TEXT)
		{
			if (!rule_clause_match_text(cl, row_text(rv, r->clause_col[c])))
				return false;
		}
		else
		{
			bool		isnull;
			Datum		d = row_binval(rv, r->clause_col[c], &isnull);

			if (!rule_clause_match_int(cl, isnull, isnull ? 0 : DatumGetInt32(d)))
				return false;
		}
	}
	return true;
}

static char *
iso_date(TimestampTz ts)
{
	DateADT		d = DatumGetDateADT(DirectFunctionCall1(timestamptz_date,
														TimestampTzGetDatum(ts)));
	int			y,
				m,
				day;

	if (DATE_NOT_FINITE(d))
		return pstrdup(DATE_IS_NOBEGIN(d) ? "-infinity" : "infinity");
	j2date(d + POSTGRES_EPOCH_JDATE, &y, &m, &day);
	return psprintf("%04d-%02d-%02d", y, m, day);
}

/* Add the task of rule r for the source row rv, whose dedupe key is key. */
static void
emit_task(TaskBatch *b, const RuleSet *set, CompiledRule *r, RowValues *rv, const char *key,
		  int c_table, int c_id, int c_account, int c_ref, int c_owner, int c_device)
{
	int			n = rule_placeholder_count(set->spec);
	const char **values;
	StringInfoData title;
	bool		isnull;
	Datum		ref;
	const char *table = row_text(rv, c_table);
	const char *owner;
	int			i = b->n;
	int			p;
	MemoryContext old = MemoryContextSwitchTo(b->cxt);

	values = palloc0(sizeof(char *) * n);

	b->account_id[i] = SPI_getbinval(rv->tup, rv->desc, c_account, &b->account_null[i]);
	b->kind[i] = CStringGetTextDatum(r->task_kind);
	ref = SPI_getbinval(rv->tup, rv->desc, c_ref, &isnull);
	b->due_null[i] = isnull;
	if (!isnull)
	{
		b->due_at[i] = DirectFunctionCall2(timestamptz_pl_interval, ref,
										   IntervalPGetDatum(&r->due_offset));
		values[RULE_PH_DUE_DATE] = iso_date(DatumGetTimestampTz(b->due_at[i]));
	}
	values[RULE_PH_RULE_NAME] = r->name;
	for (p = RULE_PH_FIRST_COLUMN; p < n; p++)
		values[p] = row_text(rv, r->ph_col[p]);

	initStringInfo(&title);
	rule_template_render(&r->tmpl, values, &title);
	b->title[i] = CStringGetTextDatum(title.data);

	switch (r->mode)
	{
		case ASSIGNEE_OWNER:
			owner = row_text(rv, c_owner);
			if (owner == NULL)
				owner = set->spec->default_role;
			break;
		case ASSIGNEE_TEAM:
			owner = "medcrm_service";
			break;
		default:
			owner = r->role;
			break;
	}
	b->assignee[i] = CStringGetTextDatum(owner);
	b->assignee_null[i] = false;
	b->priority[i] = Int16GetDatum(r->priority);
	b->source_table_null[i] = (table == NULL);
	if (table != NULL)
		b->source_table[i] = CStringGetTextDatum(table);
	b->source_id[i] = SPI_getbinval(rv->tup, rv->desc, c_id, &b->source_id_null[i]);
	b->rule_id[i] = Int32GetDatum(r->id);
	b->dedupe[i] = CStringGetTextDatum(key);
	if (c_device > 0)
		b->device_id[i] = SPI_getbinval(rv->tup, rv->desc, c_device, &b->device_null[i]);
	else
		b->device_null[i] = true;
	b->n++;
	MemoryContextSwitchTo(old);
	if (b->n == TASK_BATCH)
		flush_tasks(b);
}

/* A (row, rule) that matched, with the dedupe key of its task. */
typedef struct Match
{
	uint64		row;
	int			set;
	int			rule;
	int64		source_id;
	bool		exists;			/* medcrm.task has the key already */
	char	   *key;
} Match;

/* The matches of a pass over a source, and the columns they are read from. */
typedef struct MatchList
{
	RuleSet    *sets;
	int			nsets;
	int			c_table;
	int			c_id;
	int			c_occ;
	Match	   *matches;
	int			nmatch;
	int			cap;
	MemoryContext cxt;			/* matches and their keys */
} MatchList;

/*
 * Match one row against every rule of the sets (a set's guard column says
 * whether the row is one of its events) and note each match with its dedupe
 * key in ml.
 */
static void
match_row(MatchList *ml, RowValues *rv, uint64 row)
{
	int			si;

	for (si = 0; si < ml->nsets; si++)
	{
		RuleSet    *set = &ml->sets[si];
		int			r;

		if (set->guard_col > 0)
		{
			bool		isnull;
			Datum		g = row_binval(rv, set->guard_col, &isnull);

			if (isnull || DatumGetInt32(g) < set->guard_min)
				continue;
		}
		for (r = 0; r < set->nrules; r++)
		{
			const char *table;
			const char *occ;
			bool		isnull;
			Datum		id;
			Match	   *m;
			MemoryContext old;

			if (!rule_matches(&set->rules[r], rv))
				continue;
			table = row_text(rv, ml->c_table);
			occ = row_text(rv, ml->c_occ);
			id = row_binval(rv, ml->c_id, &isnull);
			old = MemoryContextSwitchTo(ml->cxt);
			if (ml->nmatch == ml->cap)
			{
				ml->cap = Max(ml->cap * 2, 64);
				ml->matches = ml->matches == NULL ? palloc(sizeof(Match) * ml->cap) :
					repalloc(ml->matches, sizeof(Match) * ml->cap);
			}
			m = &ml->matches[ml->nmatch++];
			m->row = row;
			m->set = si;
			m->rule = r;
			m->source_id = isnull ? 0 : DatumGetInt64(id);
			m->exists = false;
			m->key = rule_dedupe_key(set->rules[r].id, table ? table : "", m->source_id, occ);
			MemoryContextSwitchTo(old);
		}
	}
}

static SPIPlanPtr mark_plan = NULL;

/*
 * Mark the matches whose dedupe key medcrm.task has already. The query
 * returns the positions of those keys in the array, so nothing is copied
 * back or searched in C. Planned for every call with the keys at hand
 * (CURSOR_OPT_CUSTOM_PLAN): index probes per key while the keys are few
 * against the task history, one pass over the tasks when they are not; a
 * generic plan made once, for instance while the task table was still empty,
 * could not follow that.
 */
static void
mark_existing(Match *matches, int nmatch, MemoryContext cxt)
{
	Datum	   *elems;
	Datum		arg[1];
	int			ret;
	uint64		i;
	MemoryContext old;

	if (mark_plan == NULL)
	{
		Oid			types[1] = {TEXTARRAYOID};

		mark_plan = medcrm_keep_plan_opts("SELECT k.i::pg_catalog.int4"
										  "  FROM pg_catalog.unnest($1) WITH ORDINALITY AS k(key, i)"
										  " WHERE EXISTS (SELECT FROM medcrm.task t"
										  "                WHERE t.dedupe_key OPERATOR(pg_catalog.=) k.key)",
										  1, types, CURSOR_OPT_CUSTOM_PLAN);
	}
	old = MemoryContextSwitchTo(cxt);
	elems = palloc(sizeof(Datum) * nmatch);
	for (i = 0; i < (uint64) nmatch; i++)
		elems[i] = CStringGetTextDatum(matches[i].key);
	arg[0] = PointerGetDatum(construct_array(elems, nmatch, TEXTOID, -1, false, TYPALIGN_INT));
	MemoryContextSwitchTo(old);

	ret = SPI_execute_plan(mark_plan, arg, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading medcrm.task failed: %s", SPI_result_code_string(ret));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int32		pos = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
													  SPI_tuptable->tupdesc, 1, &isnull));

		if (!isnull && pos >= 1 && pos <= nmatch)
			matches[pos - 1].exists = true;
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * Evaluate rule sets over a source query: every row against every rule.
 * The query's columns are named after the condition keys and placeholders
 * of the events, plus source_table, source_id, account_id, ref_time,
 * occurrence, owner and device_id. Several sets share one pass when their
 * events read the same rows (the two contract events); a set's guard column
 * says which rows are its events. Returns the number of tasks inserted.
 */
static uint64
evaluate(RuleSet *sets, int nsets, const char *sql, int nargs, Oid *types, Datum *values,
		 const char *nulls)
{
	Portal		portal;
	TaskBatch  *b;
	MemoryContext rowcxt;
	bool		resolved = false;
	int			c_table = 0,
				c_id = 0,
				c_account = 0,
				c_ref = 0,
				c_occ = 0,
				c_owner = 0,
				c_device = 0;
	uint64		inserted;
	int			nrules = 0;
	int			si;
	MemoryContext matchcxt;
	MemoryContext old;
	Match	   *matches;
	int			nmatch;
	MatchList	ml;
	int			m;

	for (si = 0; si < nsets; si++)
		nrules += sets[si].nrules;
	if (nrules == 0)
		return 0;

	b = NULL;					/* made at the first task: most statements have none */
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "medcrm rule row",
								   ALLOCSET_DEFAULT_SIZES);
	matchcxt = AllocSetContextCreate(CurrentMemoryContext, "medcrm rule matches",
									 ALLOCSET_DEFAULT_SIZES);

	portal = SPI_cursor_open_with_args(NULL, sql, nargs, types, values, nulls, true, 0);
	if (portal == NULL)
		elog(ERROR, "opening the source of event %s failed: %s", sets[0].spec->name,
			 SPI_result_code_string(SPI_result));

	for (;;)
	{
		SPITupleTable *tt;
		uint64		i;
		uint64		nrows;

		SPI_cursor_fetch(portal, true, FETCH_BATCH);
		if (SPI_processed == 0)
			break;
		tt = SPI_tuptable;
		if (!resolved)
		{
			for (si = 0; si < nsets; si++)
			{
				resolve_columns(&sets[si], tt->tupdesc);
				sets[si].guard_col = sets[si].guard ? column_of(tt->tupdesc, sets[si].guard) : 0;
			}
			c_table = column_of(tt->tupdesc, "source_table");
			c_id = column_of(tt->tupdesc, "source_id");
			c_account = column_of(tt->tupdesc, "account_id");
			c_ref = column_of(tt->tupdesc, "ref_time");
			c_occ = column_of(tt->tupdesc, "occurrence");
			c_owner = column_of(tt->tupdesc, "owner");
			c_device = column_of(tt->tupdesc, "device_id");
			if (!c_table || !c_id || !c_account || !c_ref || !c_occ || !c_owner)
				elog(ERROR, "source query of event %s lacks a required column", sets[0].spec->name);
			resolved = true;
		}
		nrows = SPI_processed;

		/*
		 * Phase 1: match every row against every rule and note the dedupe
		 * keys. Phase 2: ask medcrm.task once which of those keys exist, so
		 * that a re-run (the steady state of run_time_rules) neither renders
		 * nor inserts anything for events already tasked. Phase 3: render
		 * and insert the others (ON CONFLICT still settles races).
		 */
		MemoryContextReset(matchcxt);
		ml.sets = sets;
		ml.nsets = nsets;
		ml.c_table = c_table;
		ml.c_id = c_id;
		ml.c_occ = c_occ;
		ml.matches = NULL;
		ml.nmatch = 0;
		ml.cap = 0;
		ml.cxt = matchcxt;
		for (i = 0; i < nrows; i++)
		{
			RowValues	rv;
			int			ncols = tt->tupdesc->natts + 1;

			old = MemoryContextSwitchTo(rowcxt);
			rv.tup = tt->vals[i];
			rv.slot = NULL;
			rv.desc = tt->tupdesc;
			rv.text = palloc0(sizeof(char *) * ncols);
			rv.done = palloc0(sizeof(bool) * ncols);
			match_row(&ml, &rv, i);
			MemoryContextSwitchTo(old);
			MemoryContextReset(rowcxt);
		}
		matches = ml.matches;
		nmatch = ml.nmatch;

		if (nmatch > 0)
		{
			mark_existing(matches, nmatch, matchcxt);
			for (m = 0; m < nmatch; m++)
			{
				RowValues	rv;
				int			ncols = tt->tupdesc->natts + 1;

				if (matches[m].exists)
					continue;
				if (b == NULL)
					b = task_batch_new();	/* in this function's context */
				old = MemoryContextSwitchTo(rowcxt);
				rv.tup = tt->vals[matches[m].row];
				rv.slot = NULL;
				rv.desc = tt->tupdesc;
				rv.text = palloc0(sizeof(char *) * ncols);
				rv.done = palloc0(sizeof(bool) * ncols);
				emit_task(b, &sets[matches[m].set], &sets[matches[m].set].rules[matches[m].rule],
						  &rv, matches[m].key, c_table, c_id, c_account, c_ref, c_owner, c_device);
				MemoryContextSwitchTo(old);
				MemoryContextReset(rowcxt);
			}
		}
		SPI_freetuptable(tt);
	}
	SPI_cursor_close(portal);
	inserted = 0;
	if (b != NULL)
	{
		flush_tasks(b);
		inserted = b->inserted;
		MemoryContextDelete(b->cxt);
		pfree(b);
	}
	MemoryContextDelete(rowcxt);
	MemoryContextDelete(matchcxt);
	return inserted;
}

/* ---------------------------------------------------------------------
 * Time-driven rules: find first, render only what is new
 * ---------------------------------------------------------------------
 *
 * run_time_rules() reads every due row of every time event on every run,
 * and on most days nearly all of them have their task already. So a time
 * event goes in three steps:
 *   1. find: the source query reduced to the columns that conditions and
 *      dedupe keys need (no template columns), run to completion into a
 *      DestReceiver that matches each row as it arrives; no cursor, so the
 *      planner may run it in parallel;
 *   2. probe: the dedupe keys of the matches against medcrm.task, one index
 *      lookup per batch of keys; the cost follows the due rows, never the
 *      task history;
 *   3. render: evaluate() over the full source query restricted to the
 *      source rows that have a new key (source_id = ANY), or unrestricted
 *      when most rows are new (a first run). evaluate() matches and probes
 *      again, and ON CONFLICT settles races, so rows that changed between
 *      the steps get exactly the tasks their current values call for.
 */

typedef struct FindReceiver
{
	DestReceiver pub;
	MatchList  *ml;
	MemoryContext keepcxt;		/* resolved column numbers */
	MemoryContext rowcxt;		/* text of the current row */
	TupleDesc	desc;
	uint64		nrows;
} FindReceiver;

static void
find_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	FindReceiver *fr = (FindReceiver *) self;
	MatchList  *ml = fr->ml;
	MemoryContext old = MemoryContextSwitchTo(fr->keepcxt);
	int			si;

	for (si = 0; si < ml->nsets; si++)
	{
		resolve_columns(&ml->sets[si], typeinfo);
		ml->sets[si].guard_col = ml->sets[si].guard ? column_of(typeinfo, ml->sets[si].guard) : 0;
	}
	ml->c_table = column_of(typeinfo, "source_table");
	ml->c_id = column_of(typeinfo, "source_id");
	ml->c_occ = column_of(typeinfo, "occurrence");
	if (!ml->c_table || !ml->c_id || !ml->c_occ)
		elog(ERROR, "source query of event %s lacks a required column", ml->sets[0].spec->name);
	fr->desc = typeinfo;
	MemoryContextSwitchTo(old);
}

static bool
find_receive(TupleTableSlot *slot, DestReceiver *self)
{
	FindReceiver *fr = (FindReceiver *) self;
	RowValues	rv;
	int			ncols = fr->desc->natts + 1;
	MemoryContext old = MemoryContextSwitchTo(fr->rowcxt);

	rv.tup = NULL;
	rv.slot = slot;
	rv.desc = fr->desc;
	rv.text = palloc0(sizeof(char *) * ncols);
	rv.done = palloc0(sizeof(bool) * ncols);
	match_row(fr->ml, &rv, fr->nrows++);
	MemoryContextSwitchTo(old);
	MemoryContextReset(fr->rowcxt);
	return true;
}

static void
find_shutdown(DestReceiver *self)
{
}

static void
find_destroy(DestReceiver *self)
{
}

/* Append a column name to a select list once. */
static void
add_column(StringInfo list, List **seen, const char *name)
{
	ListCell   *lc;

	foreach(lc, *seen)
		if (strcmp((const char *) lfirst(lc), name) == 0)
			return;
	*seen = lappend(*seen, (void *) name);
	appendStringInfo(list, ", %s", quote_identifier(name));
}

/*
 * The find query of a source: its key columns and the columns the rules'
 * conditions and the sets' guards read, without the final ORDER BY. The
 * source becomes a subquery that the planner pulls up, so the columns not
 * selected here (titles, dates rendered by to_char, ...) are never computed.
 */
static char *
find_sql(RuleSet *sets, int nsets, const char *sql)
{
	StringInfoData cols;
	List	   *seen = NIL;
	char	   *body = pstrdup(sql);
	char	   *order = NULL;
	char	   *p;
	int			si;

	/* the last ORDER BY, if it is the top-level one (no parenthesis after it) */
	for (p = strstr(body, " ORDER BY "); p != NULL; p = strstr(p + 1, " ORDER BY "))
		order = p;
	if (order != NULL && strchr(order, ')') == NULL)
		*order = '\0';

	initStringInfo(&cols);
	appendStringInfoString(&cols, "source_table, source_id, occurrence");
	seen = list_make3("source_table", "source_id", "occurrence");
	for (si = 0; si < nsets; si++)
	{
		RuleSet    *set = &sets[si];
		int			r;

		if (set->guard != NULL)
			add_column(&cols, &seen, set->guard);
		for (r = 0; r < set->nrules; r++)
		{
			const RuleCondition *cond = &set->rules[r].cond;
			int			c;

			for (c = 0; c < cond->nclauses; c++)
			{
				const CondKeySpec *k = cond->clauses[c].spec;

				add_column(&cols, &seen,
						   k->kind == COND_WITHIN_DAYS ? "days_left" :
						   k->kind == COND_DAYS_OVERDUE ? "days_overdue" : k->key);
			}
		}
	}
	return psprintf("SELECT %s FROM (%s) AS src", cols.data, body);
}

static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * evaluate() for time-driven rules, in the three steps above. Same arguments
 * and result as evaluate().
 */
static uint64
evaluate_time(RuleSet *sets, int nsets, const char *sql, int nargs, Oid *types, Datum *values,
			  const char *nulls)
{
	MatchList	ml;
	FindReceiver fr;
	SPIPlanPtr	plan;
	ParamListInfo params;
	SPIExecuteOptions options;
	Datum	   *ids;
	int			nids = 0;
	int			nrules = 0;
	int			si;
	int			ret;
	int			i;
	int			m;
	uint64		inserted;

	for (si = 0; si < nsets; si++)
		nrules += sets[si].nrules;
	if (nrules == 0)
		return 0;

	/* 1. find and match */
	memset(&ml, 0, sizeof(ml));
	ml.sets = sets;
	ml.nsets = nsets;
	ml.cxt = AllocSetContextCreate(CurrentMemoryContext, "medcrm time rule matches",
								   ALLOCSET_DEFAULT_SIZES);
	memset(&fr, 0, sizeof(fr));
	fr.pub.receiveSlot = find_receive;
	fr.pub.rStartup = find_startup;
	fr.pub.rShutdown = find_shutdown;
	fr.pub.rDestroy = find_destroy;
	fr.pub.mydest = DestNone;
	fr.ml = &ml;
	fr.keepcxt = CurrentMemoryContext;
	fr.rowcxt = AllocSetContextCreate(CurrentMemoryContext, "medcrm time rule row",
									  ALLOCSET_DEFAULT_SIZES);

	plan = SPI_prepare_cursor(find_sql(sets, nsets, sql), nargs, types, CURSOR_OPT_PARALLEL_OK);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare_cursor failed: %s", SPI_result_code_string(SPI_result));
	params = makeParamList(nargs);
	for (i = 0; i < nargs; i++)
	{
		ParamExternData *prm = &params->params[i];

		prm->value = values[i];
		prm->isnull = (nulls != NULL && nulls[i] == 'n');
		prm->pflags = PARAM_FLAG_CONST;
		prm->ptype = types[i];
	}
	memset(&options, 0, sizeof(options));
	options.params = params;
	options.read_only = true;
	options.dest = &fr.pub;
	ret = SPI_execute_plan_extended(plan, &options);
	/* SPI reports a SELECT into a receiver tagged DestNone as "utility" */
	if (ret != SPI_OK_SELECT && ret != SPI_OK_UTILITY)
		elog(ERROR, "reading the source of event %s failed: %s", sets[0].spec->name,
			 SPI_result_code_string(ret));
	SPI_freeplan(plan);
	MemoryContextDelete(fr.rowcxt);

	/* 2. which keys medcrm.task has already */
	for (m = 0; m < ml.nmatch; m += PROBE_BATCH)
		mark_existing(ml.matches + m, Min(PROBE_BATCH, ml.nmatch - m), ml.cxt);

	/* 3. the source rows with a new key, rendered and inserted */
	ids = MemoryContextAlloc(ml.cxt, sizeof(Datum) * Max(ml.nmatch, 1));
	for (m = 0; m < ml.nmatch; m++)
		if (!ml.matches[m].exists)
			ids[nids++] = Int64GetDatum(ml.matches[m].source_id);
	elog(DEBUG1, "medcrm: event %s: %llu due rows, %d matches, %d without a task",
		 sets[0].spec->name, (unsigned long long) fr.nrows, ml.nmatch, nids);
	if (nids == 0)
		inserted = 0;
	else if ((uint64) nids * 2 > fr.nrows)
		inserted = evaluate(sets, nsets, sql, nargs, types, values, nulls);
	else
	{
		Oid		   *types2 = palloc(sizeof(Oid) * (nargs + 1));
		Datum	   *values2 = palloc(sizeof(Datum) * (nargs + 1));
		char	   *nulls2 = palloc(nargs + 2);
		int			nunique = 0;

		/* distinct ids (a row can match several rules) */
		qsort(ids, nids, sizeof(Datum), cmp_int64);
		for (i = 0; i < nids; i++)
			if (nunique == 0 || DatumGetInt64(ids[i]) != DatumGetInt64(ids[nunique - 1]))
				ids[nunique++] = ids[i];
		for (i = 0; i < nargs; i++)
		{
			types2[i] = types[i];
			values2[i] = values[i];
			nulls2[i] = nulls != NULL ? nulls[i] : ' ';
		}
		types2[nargs] = INT8ARRAYOID;
		values2[nargs] = PointerGetDatum(construct_array(ids, nunique, INT8OID, sizeof(int64),
														 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		nulls2[nargs] = ' ';
		nulls2[nargs + 1] = '\0';
		inserted = evaluate(sets, nsets,
							psprintf("SELECT * FROM (%s) AS src"
									 " WHERE source_id OPERATOR(pg_catalog.=) ANY ($%d)",
									 sql, nargs + 1),
							nargs + 1, types2, values2, nulls2);
	}
	MemoryContextDelete(ml.cxt);
	return inserted;
}

/* ---------------------------------------------------------------------
 * The source queries of the events
 * ---------------------------------------------------------------------
 */

#define ACCOUNT_COLS \
	" a.name AS account_name, coalesce(a.tier_override, a.tier) AS tier, a.region," \
	" a.kind AS account_kind"

static char *
opportunity_sql(bool update)
{
	return psprintf("SELECT 'opportunity'::text AS source_table, o.id AS source_id, o.account_id,"
					"       pg_catalog.now() AS ref_time, o.stage AS occurrence,"
					"       coalesce(o.owner_role, a.owner_role)::text AS owner, NULL::bigint AS device_id,"
					ACCOUNT_COLS ", a.hospital_grade, o.stage, %s AS previous_stage,"
					"       o.id::text AS opportunity_id, p.name AS product_name,"
					"       pg_catalog.to_char(o.amount, 'FM999999999990.00') AS amount,"
					"       pg_catalog.to_char(o.expected_close, 'YYYY-MM-DD') AS expected_close"
					"  FROM new_rows o %s"
					"  JOIN medcrm.account a ON a.id OPERATOR(pg_catalog.=) o.account_id"
					"  LEFT JOIN medcrm.product p ON p.id OPERATOR(pg_catalog.=) o.product_id"
					" ORDER BY o.id",
					update ? "x.stage" : "NULL::text",
					update ? "JOIN old_rows x ON x.id OPERATOR(pg_catalog.=) o.id"
					" AND x.stage IS DISTINCT FROM o.stage" : "");
}

/*
 * Both contract events in one pass. $1 as_of timestamptz; $2 the largest
 * renewal window (NULL: no renewal rules), $3 the smallest days_overdue of
 * the escalation rules (NULL: none).
 */
static char *
contract_sql(const char *source)
{
	return psprintf("SELECT 'contract'::text AS source_table, c.id AS source_id, c.account_id,"
					"       c.ends_on::timestamptz AS ref_time,"
					"       pg_catalog.to_char(c.ends_on, 'YYYY-MM-DD') AS occurrence,"
					"       coalesce(c.owner_role, a.owner_role)::text AS owner, NULL::bigint AS device_id,"
					ACCOUNT_COLS ", c.kind AS contract_kind, c.contract_no,"
					"       pg_catalog.to_char(c.ends_on, 'YYYY-MM-DD') AS ends_on,"
					"       (c.ends_on OPERATOR(pg_catalog.-) $1::date) AS days_left,"
					"       ($1::date OPERATOR(pg_catalog.-) c.ends_on) AS days_overdue,"
					"       pg_catalog.to_char(c.value, 'FM999999999990.00') AS value"
					"  FROM %s c"
					"  JOIN medcrm.account a ON a.id OPERATOR(pg_catalog.=) c.account_id"
					" WHERE c.status OPERATOR(pg_catalog.=) 'active'"
					"   AND ((c.ends_on OPERATOR(pg_catalog.>=) $1::date"
					"         AND c.ends_on OPERATOR(pg_catalog.<=) ($1::date OPERATOR(pg_catalog.+) $2))"
					"     OR (c.ends_on OPERATOR(pg_catalog.<) $1::date"
					"         AND c.ends_on OPERATOR(pg_catalog.<=) ($1::date OPERATOR(pg_catalog.-) $3)))"
					"   AND NOT EXISTS (SELECT FROM medcrm.contract s"
					"                    WHERE s.renewed_from OPERATOR(pg_catalog.=) c.id)"
					" ORDER BY c.id",
					source);
}

#define WORK_ORDER_COLS \
	" a.owner_role::text AS owner, w.device_id," ACCOUNT_COLS "," \
	" w.kind, w.priority::int4 AS priority, a.service_level, w.id::text AS work_order_id," \
	" t.name AS team_name," \
	" pg_catalog.to_char(w.response_due_at, 'YYYY-MM-DD HH24:MI') AS response_due," \
	" pg_catalog.to_char(w.resolve_due_at, 'YYYY-MM-DD HH24:MI') AS resolve_due," \
	" d.serial_no"
#define WORK_ORDER_JOINS \
	" JOIN medcrm.account a ON a.id OPERATOR(pg_catalog.=) w.account_id" \
	" LEFT JOIN medcrm.service_team t ON t.id OPERATOR(pg_catalog.=) w.assigned_team" \
	" LEFT JOIN medcrm.installed_device d ON d.id OPERATOR(pg_catalog.=) w.device_id"
#define WORK_ORDER_OPEN \
	" w.status OPERATOR(pg_catalog.<>) ALL ('{resolved,closed,cancelled}'::text[])"

static const char *work_order_insert_sql =
"SELECT 'work_order'::text AS source_table, w.id AS source_id, w.account_id,"
"       coalesce(w.response_due_at, w.reported_at) AS ref_time, 'new'::text AS occurrence,"
WORK_ORDER_COLS ", NULL::text AS breached"
"  FROM new_rows w" WORK_ORDER_JOINS
" WHERE" WORK_ORDER_OPEN
" ORDER BY w.id";

/* $1 as_of */
static const char *work_order_breach_sql =
"SELECT * FROM ("
"SELECT 'work_order'::text AS source_table, w.id AS source_id, w.account_id,"
"       w.response_due_at AS ref_time,"
"       'response:' OPERATOR(pg_catalog.||) pg_catalog.to_char(w.response_due_at AT TIME ZONE 'UTC',"
"                                        'YYYY-MM-DD\"T\"HH24:MI:SS') AS occurrence,"
WORK_ORDER_COLS ", 'response'::text AS breached"
"  FROM medcrm.work_order w" WORK_ORDER_JOINS
" WHERE" WORK_ORDER_OPEN " AND w.first_response_at IS NULL"
"   AND w.response_due_at OPERATOR(pg_catalog.<) $1"
" UNION ALL "
"SELECT 'work_order'::text, w.id, w.account_id, w.resolve_due_at,"
"       'resolve:' OPERATOR(pg_catalog.||) pg_catalog.to_char(w.resolve_due_at AT TIME ZONE 'UTC',"
"                                       'YYYY-MM-DD\"T\"HH24:MI:SS'),"
WORK_ORDER_COLS ", 'resolve'::text"
"  FROM medcrm.work_order w" WORK_ORDER_JOINS
" WHERE" WORK_ORDER_OPEN " AND w.resolved_at IS NULL"
"   AND w.resolve_due_at OPERATOR(pg_catalog.<) $1"
") AS breach ORDER BY source_id, breached";

#define RECALL_SCOPE \
	" d.product_id OPERATOR(pg_catalog.=) r.product_id" \
	" AND d.batch_no OPERATOR(pg_catalog.=) ANY (r.batch_nos)" \
	" AND (r.serial_nos IS NULL OR pg_catalog.cardinality(r.serial_nos) OPERATOR(pg_catalog.=) 0" \
	"      OR d.serial_no OPERATOR(pg_catalog.=) ANY (r.serial_nos))"

static const char *recall_mark_sql =
"UPDATE medcrm.installed_device d SET status = 'recalled'"
"  FROM new_rows r"
" WHERE r.status OPERATOR(pg_catalog.=) 'open' AND" RECALL_SCOPE
"   AND d.status OPERATOR(pg_catalog.<>) ALL ('{recalled,retired}'::text[])";

static const char *recall_sql =
"SELECT 'recall'::text AS source_table, r.id AS source_id, d.account_id, r.opened_at AS ref_time,"
"       'device:' OPERATOR(pg_catalog.||) d.id AS occurrence, a.owner_role::text AS owner,"
"       d.id AS device_id," ACCOUNT_COLS ", r.class, p.category AS product_category,"
"       r.id::text AS recall_id, p.name AS product_name, p.model_code, d.serial_no, d.batch_no,"
"       r.reason"
"  FROM new_rows r"
"  JOIN medcrm.installed_device d ON" RECALL_SCOPE
"  JOIN medcrm.account a ON a.id OPERATOR(pg_catalog.=) d.account_id"
"  JOIN medcrm.product p ON p.id OPERATOR(pg_catalog.=) r.product_id"
" WHERE r.status OPERATOR(pg_catalog.=) 'open' AND d.status OPERATOR(pg_catalog.<>) 'retired'"
" ORDER BY r.id, d.id";

/* $1 as_of, $2 min days_overdue (time rules only) */
static char *
sample_loan_sql(const char *source, bool overdue)
{
	return psprintf("SELECT 'sample_loan'::text AS source_table, s.id AS source_id, s.account_id,"
					"       s.due_back_on::timestamptz AS ref_time,"
					"       pg_catalog.to_char(s.due_back_on, 'YYYY-MM-DD') AS occurrence,"
					"       a.owner_role::text AS owner, NULL::bigint AS device_id," ACCOUNT_COLS ","
					"       p.category AS product_category, s.serial_no, p.name AS product_name,"
					"       pg_catalog.to_char(s.lent_on, 'YYYY-MM-DD') AS lent_on,"
					"       pg_catalog.to_char(s.due_back_on, 'YYYY-MM-DD') AS due_back_on,"
					"       ($1::date OPERATOR(pg_catalog.-) s.due_back_on) AS days_overdue"
					"  FROM %s s"
					"  JOIN medcrm.account a ON a.id OPERATOR(pg_catalog.=) s.account_id"
					"  JOIN medcrm.product p ON p.id OPERATOR(pg_catalog.=) s.product_id"
					" WHERE s.returned_on IS NULL %s"
					" ORDER BY s.id",
					source,
					overdue ?
					"AND s.due_back_on OPERATOR(pg_catalog.<) $1::date"
					" AND s.due_back_on OPERATOR(pg_catalog.<=) ($1::date OPERATOR(pg_catalog.-) $2)" :
					"");
}

static const char *tier_change_sql =
"SELECT 'tier_history'::text AS source_table, h.id AS source_id, h.account_id,"
"       h.changed_at AS ref_time, coalesce(h.new_tier, '-') AS occurrence,"
"       a.owner_role::text AS owner, NULL::bigint AS device_id,"
"       a.name AS account_name, h.new_tier AS tier, a.region, a.kind AS account_kind,"
"       h.new_tier, h.old_tier,"
"       CASE WHEN h.old_tier IS NULL THEN 'first'"
"            WHEN h.new_tier OPERATOR(pg_catalog.<) h.old_tier THEN 'up'"
"            WHEN h.new_tier OPERATOR(pg_catalog.>) h.old_tier THEN 'down' END AS direction,"
"       pg_catalog.to_char(h.score, 'FM9990.0') AS score, h.reason"
"  FROM new_rows h"
"  JOIN medcrm.account a ON a.id OPERATOR(pg_catalog.=) h.account_id"
" ORDER BY h.id";

/* $1 as_of, $2 max within_days */
static const char *certificate_sql =
"SELECT * FROM ("
"SELECT 'certificate'::text AS source_table, c.id AS source_id, c.account_id,"
"       c.valid_to::timestamptz AS ref_time,"
"       pg_catalog.to_char(c.valid_to, 'YYYY-MM-DD') AS occurrence,"
"       a.owner_role::text AS owner, NULL::bigint AS device_id,"
"       a.name AS account_name, coalesce(a.tier_override, a.tier) AS tier, a.region,"
"       c.kind AS certificate_kind, c.number AS certificate_no,"
"       pg_catalog.to_char(c.valid_to, 'YYYY-MM-DD') AS valid_to,"
"       (c.valid_to OPERATOR(pg_catalog.-) $1::date) AS days_left, p.name AS product_name"
"  FROM medcrm.certificate c"
"  LEFT JOIN medcrm.account a ON a.id OPERATOR(pg_catalog.=) c.account_id"
"  LEFT JOIN medcrm.product p ON p.id OPERATOR(pg_catalog.=) c.product_id"
" WHERE c.valid_to OPERATOR(pg_catalog.<=) ($1::date OPERATOR(pg_catalog.+) $2)"
"   AND NOT EXISTS (SELECT FROM medcrm.certificate n"
"                    WHERE n.kind OPERATOR(pg_catalog.=) c.kind"
"                      AND n.account_id IS NOT DISTINCT FROM c.account_id"
"                      AND n.product_id IS NOT DISTINCT FROM c.product_id"
"                      AND n.valid_to OPERATOR(pg_catalog.>) c.valid_to)"
" UNION ALL "
"SELECT 'product'::text, p.id, NULL::bigint, p.registration_expires::timestamptz,"
"       pg_catalog.to_char(p.registration_expires, 'YYYY-MM-DD'), NULL::text, NULL::bigint,"
"       NULL::text, NULL::text, NULL::text, 'product_registration'::text, p.registration_no,"
"       pg_catalog.to_char(p.registration_expires, 'YYYY-MM-DD'),"
"       (p.registration_expires OPERATOR(pg_catalog.-) $1::date), p.name"
"  FROM medcrm.product p"
" WHERE p.registration_expires OPERATOR(pg_catalog.<=) ($1::date OPERATOR(pg_catalog.+) $2)"
"   AND NOT EXISTS (SELECT FROM medcrm.certificate c"
"                    WHERE c.kind OPERATOR(pg_catalog.=) 'product_registration'"
"                      AND c.product_id OPERATOR(pg_catalog.=) p.id"
"                      AND c.valid_to OPERATOR(pg_catalog.>=) p.registration_expires)"
") AS expiring ORDER BY source_table, source_id";

/* $1 as_of, $2 max within_days */
static const char *warranty_sql =
"SELECT 'installed_device'::text AS source_table, d.id AS source_id, d.account_id,"
"       d.warranty_ends::timestamptz AS ref_time,"
"       pg_catalog.to_char(d.warranty_ends, 'YYYY-MM-DD') AS occurrence,"
"       a.owner_role::text AS owner, d.id AS device_id," ACCOUNT_COLS ","
"       a.service_level, p.category AS product_category, d.serial_no, p.name AS product_name,"
"       pg_catalog.to_char(d.warranty_ends, 'YYYY-MM-DD') AS warranty_ends,"
"       (d.warranty_ends OPERATOR(pg_catalog.-) $1::date) AS days_left"
"  FROM medcrm.installed_device d"
"  JOIN medcrm.account a ON a.id OPERATOR(pg_catalog.=) d.account_id"
"  JOIN medcrm.product p ON p.id OPERATOR(pg_catalog.=) d.product_id"
" WHERE d.status OPERATOR(pg_catalog.=) ANY ('{active,in_repair}'::text[])"
"   AND d.warranty_ends OPERATOR(pg_catalog.>=) $1::date"
"   AND d.warranty_ends OPERATOR(pg_catalog.<=) ($1::date OPERATOR(pg_catalog.+) $2)"
"   AND NOT EXISTS (SELECT FROM medcrm.contract c"
"                    WHERE c.account_id OPERATOR(pg_catalog.=) d.account_id"
"                      AND c.kind OPERATOR(pg_catalog.=) ANY ('{service,maintenance}'::text[])"
"                      AND c.status OPERATOR(pg_catalog.=) 'active'"
"                      AND c.ends_on OPERATOR(pg_catalog.>) d.warranty_ends)"
" ORDER BY d.id";

/* $1 as_of. medcrm.v_data_quality is resolved here, at run time. */
static const char *data_quality_sql =
"SELECT f.table_name AS source_table, f.row_id AS source_id, f.account_id, $1 AS ref_time,"
"       f.finding_code AS occurrence, a.owner_role::text AS owner, NULL::bigint AS device_id,"
"       a.name AS account_name, coalesce(a.tier_override, a.tier) AS tier, a.region,"
"       f.finding_code, f.severity, f.table_name, f.row_id::text AS row_id, f.detail, f.fix_hint"
"  FROM medcrm.v_data_quality f"
"  LEFT JOIN medcrm.account a ON a.id OPERATOR(pg_catalog.=) f.account_id"
" ORDER BY f.table_name, f.row_id, f.finding_code";

/* Run an event's rules of one mode over a query with ($1 as_of, $2 window). */
static uint64
run_event(RuleEvent event, RuleMode mode, const char *sql, TimestampTz as_of, bool with_window)
{
	RuleSet		set;
	Oid			types[2] = {TIMESTAMPTZOID, INT4OID};
	Datum		values[2];

	load_rules(event, mode, &set);
	if (set.nrules == 0)
		return 0;
	values[0] = TimestampTzGetDatum(as_of);
	/* $2: how far the source looks (days overdue for overdue events, else days ahead) */
	values[1] = Int32GetDatum(rule_event_specs[event].time_key != NULL ?
							  set.min_overdue : set.max_within);
	if (mode == MODE_TIME)
		return evaluate_time(&set, 1, sql, with_window ? 2 : 1, types, values, NULL);
	return evaluate(&set, 1, sql, with_window ? 2 : 1, types, values, NULL);
}

/* contract_renewal and contract_expired over one source. */
static uint64
run_contracts(RuleMode mode, const char *source, TimestampTz as_of)
{
	RuleSet		sets[2];
	Oid			types[3] = {TIMESTAMPTZOID, INT4OID, INT4OID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	load_rules(RULE_EVENT_CONTRACT_RENEWAL, mode, &sets[0]);
	load_rules(RULE_EVENT_CONTRACT_EXPIRED, mode, &sets[1]);
	if (sets[0].nrules + sets[1].nrules == 0)
		return 0;
	/* a renewal rule sees contracts not yet ended, an escalation ended ones */
	sets[0].guard = "days_left";
	sets[0].guard_min = 0;
	sets[1].guard = "days_overdue";
	sets[1].guard_min = 1;
	values[0] = TimestampTzGetDatum(as_of);
	values[1] = Int32GetDatum(sets[0].max_within);
	values[2] = Int32GetDatum(sets[1].min_overdue);
	if (sets[0].nrules == 0)
		nulls[1] = 'n';
	if (sets[1].nrules == 0)
		nulls[2] = 'n';
	if (mode == MODE_TIME)
		return evaluate_time(sets, 2, contract_sql(source), 3, types, values, nulls);
	return evaluate(sets, 2, contract_sql(source), 3, types, values, nulls);
}

static void
run_sql(const char *sql, int expected)
{
	int			ret = SPI_execute(sql, false, 0);

	if (ret != expected)
		elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(ret));
}

/* ---------------------------------------------------------------------
 * medcrm.fire_rules(): the statement-level AFTER trigger of the event tables
 * ---------------------------------------------------------------------
 */
Datum
medcrm_fire_rules(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	const char *table;
	bool		insert;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	int			ret;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fire_rules() was not called by the trigger manager")));
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		!(TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) || TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event)) ||
		trigdata->tg_newtable == NULL ||
		(TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) && trigdata->tg_oldtable == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fire_rules() must be fired AFTER INSERT or UPDATE FOR EACH STATEMENT"),
				 errhint("Declare the trigger with REFERENCING NEW TABLE AS new_rows (and OLD TABLE AS old_rows for UPDATE).")));
	if (strcmp(get_namespace_name(RelationGetNamespace(trigdata->tg_relation)), "medcrm") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fire_rules() fired on table \"%s\", which is not a medcrm table",
						RelationGetRelationName(trigdata->tg_relation))));

	table = RelationGetRelationName(trigdata->tg_relation);
	insert = TRIGGER_FIRED_BY_INSERT(trigdata->tg_event);

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
	if ((ret = SPI_register_trigger_data(trigdata)) != SPI_OK_TD_REGISTER)
		elog(ERROR, "SPI_register_trigger_data failed: %s", SPI_result_code_string(ret));

	if (strcmp(table, "opportunity") == 0)
		run_event(RULE_EVENT_OPPORTUNITY_STAGE, MODE_WRITE, opportunity_sql(!insert), now, false);
	else if (strcmp(table, "contract") == 0)
	{
		/* a renewal closes the renewal tasks of the contract it renews */
		if (insert)
			run_sql("UPDATE medcrm.task t SET status = 'done'"
					"  FROM new_rows c"
					" WHERE c.renewed_from IS NOT NULL"
					"   AND t.source_table OPERATOR(pg_catalog.=) 'contract'"
					"   AND t.source_id OPERATOR(pg_catalog.=) c.renewed_from"
					"   AND t.kind OPERATOR(pg_catalog.=) ANY ('{renewal,renewal_escalation}'::text[])"
					"   AND t.status OPERATOR(pg_catalog.=) 'open'", SPI_OK_UPDATE);
		run_contracts(MODE_WRITE, "new_rows", now);
	}
	else if (strcmp(table, "work_order") == 0 && insert)
		run_event(RULE_EVENT_WORK_ORDER, MODE_WRITE, work_order_insert_sql, now, false);
	else if (strcmp(table, "recall") == 0)
	{
		run_sql(recall_mark_sql, SPI_OK_UPDATE);
		run_event(RULE_EVENT_RECALL, MODE_WRITE, recall_sql, now, false);
	}
	else if (strcmp(table, "sample_loan") == 0)
	{
		if (insert)
			run_event(RULE_EVENT_SAMPLE_LOAN, MODE_WRITE, sample_loan_sql("new_rows", false), now, false);
		else
			/* a returned sample closes its return tasks */
			run_sql("UPDATE medcrm.task t SET status = 'done'"
					"  FROM new_rows s JOIN old_rows o ON o.id OPERATOR(pg_catalog.=) s.id"
					" WHERE o.returned_on IS NULL AND s.returned_on IS NOT NULL"
					"   AND t.source_table OPERATOR(pg_catalog.=) 'sample_loan'"
					"   AND t.source_id OPERATOR(pg_catalog.=) s.id"
					"   AND t.kind OPERATOR(pg_catalog.=) 'sample_return'"
					"   AND t.status OPERATOR(pg_catalog.=) 'open'", SPI_OK_UPDATE);
	}
	else if (strcmp(table, "tier_history") == 0 && insert)
		run_event(RULE_EVENT_TIER_CHANGE, MODE_WRITE, tier_change_sql, now, false);
	else
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fire_rules() has no rules for %s on table \"%s\"",
						insert ? "INSERT" : "UPDATE", table)));

	SPI_finish();
	return PointerGetDatum(NULL);
}

/* ---------------------------------------------------------------------
 * medcrm.run_time_rules(as_of timestamptz) → bigint
 * ---------------------------------------------------------------------
 */
Datum
medcrm_run_time_rules(PG_FUNCTION_ARGS)
{
	TimestampTz as_of;
	uint64		n = 0;
	int			ret;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("as_of must not be null"),
				 errhint("Call medcrm.run_time_rules() for now, or pass a timestamp.")));
	as_of = PG_GETARG_TIMESTAMPTZ(0);
	if (TIMESTAMP_NOT_FINITE(as_of))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("as_of must be a finite timestamp")));

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));

	n += run_contracts(MODE_TIME, "medcrm.contract", as_of);
	n += run_event(RULE_EVENT_CERTIFICATE_EXPIRY, MODE_TIME, certificate_sql, as_of, true);
	n += run_event(RULE_EVENT_WARRANTY_EXPIRY, MODE_TIME, warranty_sql, as_of, true);
	n += run_event(RULE_EVENT_SAMPLE_LOAN, MODE_TIME,
				   sample_loan_sql("medcrm.sample_loan", true), as_of, true);
	n += run_event(RULE_EVENT_WORK_ORDER, MODE_TIME, work_order_breach_sql, as_of, false);
	n += run_event(RULE_EVENT_DATA_QUALITY, MODE_TIME, data_quality_sql, as_of, false);

	SPI_finish();
	PG_RETURN_INT64((int64) n);
}

/* ---------------------------------------------------------------------
 * medcrm.rule_validate(): BEFORE INSERT OR UPDATE row trigger of medcrm.rule
 * ---------------------------------------------------------------------
 */
static char *
text_attr(HeapTuple tup, TupleDesc desc, const char *name, bool *isnull)
{
	int			att = SPI_fnumber(desc, name);
	Datum		d;

	if (att <= 0)
		elog(ERROR, "medcrm.rule has no column %s", name);
	d = heap_getattr(tup, att, desc, isnull);
	return *isnull ? NULL : TextDatumGetCString(d);
}

Datum
medcrm_rule_validate(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	char	   *event;
	char	   *tmpl;
	char	   *assignee;
	int			ev;
	int			att;
	Datum		cond;
	const RuleEventSpec *spec;
	RuleCondition rc;
	RuleTemplate rt;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("rule_validate() was not called by the trigger manager")));
	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event) || !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("rule_validate() must be fired BEFORE INSERT OR UPDATE FOR EACH ROW")));

	tup = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	desc = RelationGetDescr(trigdata->tg_relation);

	/* NULLs and the plain CHECKs (blank template, priority) are the table's job */
	event = text_attr(tup, desc, "event", &isnull);
	if (isnull)
		return PointerGetDatum(tup);
	ev = rule_event_lookup(event);
	if (ev < 0)
	{
		StringInfoData list;
		int			i;

		initStringInfo(&list);
		for (i = 0; i < RULE_EVENT_COUNT; i++)
			appendStringInfo(&list, "%s%s", i ? ", " : "", rule_event_specs[i].name);
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("unknown rule event \"%s\"", event),
				 errdetail("The events are %s.", list.data),
				 errhint("Use one of the events listed.")));
	}
	spec = &rule_event_specs[ev];

	att = SPI_fnumber(desc, "condition");
	cond = heap_getattr(tup, att, desc, &isnull);
	if (!isnull)
		rule_condition_parse(spec, DatumGetJsonbP(cond), &rc);

	tmpl = text_attr(tup, desc, "title_template", &isnull);
	if (!isnull)
		rule_template_parse(spec, tmpl, &rt);

	assignee = text_attr(tup, desc, "assignee", &isnull);
	if (!isnull && rule_assignee_parse(spec, assignee) == ASSIGNEE_ROLE &&
		!OidIsValid(get_role_oid(assignee, true)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("assignee role \"%s\" does not exist", assignee),
				 errdetail("The assignee of a rule is \"owner\", \"team\" (work orders) or the name of a role."),
				 errhint("Create the role first, or use \"owner\".")));

	return PointerGetDatum(tup);
}

/* ---------------------------------------------------------------------
 * medcrm.task_set_done_at(): BEFORE INSERT OR UPDATE row trigger of medcrm.task
 * ---------------------------------------------------------------------
 */
Datum
medcrm_task_set_done_at(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	static Oid	cached_relid = InvalidOid;
	static uint64 cached_generation;
	static AttrNumber a_status,
				a_done;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	bool		done_null;
	bool		is_done;
	char	   *status;
	Datum		value;
	bool		value_null = false;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("task_set_done_at() was not called by the trigger manager")));
	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event) || !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("task_set_done_at() must be fired BEFORE INSERT OR UPDATE FOR EACH ROW")));

	desc = RelationGetDescr(trigdata->tg_relation);
	if (cached_relid != RelationGetRelid(trigdata->tg_relation) ||
		cached_generation != medcrm_relcache_generation)
	{
		a_status = SPI_fnumber(desc, "status");
		a_done = SPI_fnumber(desc, "done_at");
		if (a_status <= 0 || a_done <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					 errmsg("task_set_done_at() fired on table \"%s\", which has no status and done_at",
							RelationGetRelationName(trigdata->tg_relation))));
		cached_relid = RelationGetRelid(trigdata->tg_relation);
		cached_generation = medcrm_relcache_generation;
	}

	tup = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	value = heap_getattr(tup, a_status, desc, &isnull);
	if (isnull)
		return PointerGetDatum(tup);
	status = TextDatumGetCString(value);
	is_done = (strcmp(status, "done") == 0);
	(void) heap_getattr(tup, a_done, desc, &done_null);

	if (is_done && done_null)
		value = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	else if (!is_done && !done_null && TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		value_null = true;		/* reopened or cancelled: no longer done */
	else
		return PointerGetDatum(tup);
	{
		int			cols[1] = {a_done};

		return PointerGetDatum(heap_modify_tuple_by_cols(tup, desc, 1, cols, &value, &value_null));
	}
}
