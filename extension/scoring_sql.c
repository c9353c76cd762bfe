/*
 * scoring_sql.c — the SQL-facing layer of tier scoring.
 *
 *   medcrm.score_account(account_id, model_id, as_of)   one account's score
 *   medcrm.explain_tier(account_id, model_id, as_of)    its factor-by-factor
 *                                                       explanation
 *   medcrm.score_factors(record, model_id)              score of a row of factors
 *   medcrm.rescore(model_id, as_of)                     re-tier every account
 *   medcrm.activate_model(model_id)                     validate and activate
 *   medcrm.tier_model_check()                           trigger on tier_model
 *
 * Factors always come from medcrm.account_factors() (SQL, inlined by the
 * planner), so that one definition serves the single-account functions, which
 * get an index-driven plan for one account, and rescore(), which streams the
 * whole aggregation through a cursor and scores each row in C.
 *
 * rescore() writes only the accounts whose tier, score or model changed, in
 * a few set-based UPDATEs (one per batch of changed accounts, fed by arrays),
 * never a statement per account. The history of effective-tier changes is
 * written by the statement-level trigger on medcrm.account, so that manual
 * overrides and rescoring leave the same trail.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "medcrm.h"
#include "scoring.h"

PG_FUNCTION_INFO_V1(medcrm_score_account);
PG_FUNCTION_INFO_V1(medcrm_explain_tier);
PG_FUNCTION_INFO_V1(medcrm_score_factors);
PG_FUNCTION_INFO_V1(medcrm_rescore);
PG_FUNCTION_INFO_V1(medcrm_activate_model);
PG_FUNCTION_INFO_V1(medcrm_tier_model_check);

/* Changed accounts written per UPDATE statement by rescore() (a setting). */
static int	rescore_batch_size = 100000;
/* Rows fetched per round trip from the factor cursor. */
#define RESCORE_FETCH	10000

/* ---- reading factors from a row ----------------------------------------- */

/*
 * Where the factors and segment columns are in a row type, found by column
 * name, so that any row with the column names of account_factors() can be
 * scored (a materialised copy, a view, a test table).
 */
typedef struct FactorReader
{
	int			fattno[TIER_NFACTORS];	/* 0-based, -1 when absent */
	Oid			ftype[TIER_NFACTORS];
	int			sattno[TIER_NSEGMENTS];
	TupleDesc	desc;			/* the row type */
} FactorReader;

static void
reader_init(FactorReader *r, TupleDesc desc, const TierModel *model)
{
	int			i;

	for (i = 0; i < TIER_NFACTORS; i++)
		r->fattno[i] = -1;
	for (i = 0; i < TIER_NSEGMENTS; i++)
		r->sattno[i] = -1;
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		const char *name = NameStr(att->attname);
		int			k;

		if (att->attisdropped)
			continue;
		if ((k = tier_factor_lookup(name, strlen(name))) >= 0)
		{
			switch (att->atttypid)
			{
				case FLOAT8OID:
				case FLOAT4OID:
				case INT8OID:
				case INT4OID:
				case INT2OID:
				case NUMERICOID:
					break;
				default:
					ereport(ERROR,
							(errcode(ERRCODE_DATATYPE_MISMATCH),
							 errmsg("factor column \"%s\" has type %s", name,
									format_type_be(att->atttypid)),
							 errhint("Factor columns must be numbers (double precision, integer or numeric).")));
			}
			r->fattno[k] = i;
			r->ftype[k] = att->atttypid;
		}
		else if ((k = tier_segment_lookup(name, strlen(name))) >= 0)
		{
			if (att->atttypid != TEXTOID && att->atttypid != VARCHAROID)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("segment column \"%s\" has type %s", name,
								format_type_be(att->atttypid)),
						 errhint("Segment columns must be text.")));
			r->sattno[k] = i;
		}
	}
	for (i = 0; i < model->nspecs; i++)
	{
		int			a = r->fattno[model->specs[i].factor];

		if (a < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("row has no factor column \"%s\"",
							tier_factor_names[model->specs[i].factor]),
					 errdetail("Tier model %d weighs that factor.", model->id),
					 errhint("Score rows of medcrm.account_factors(), or rows with the same column names.")));
	}
	r->desc = desc;
}

static inline double
datum_to_double(Datum d, Oid type)
{
	switch (type)
	{
		case FLOAT8OID:
			return DatumGetFloat8(d);
		case FLOAT4OID:
			return (double) DatumGetFloat4(d);
		case INT8OID:
			return (double) DatumGetInt64(d);
		case INT4OID:
			return (double) DatumGetInt32(d);
		case INT2OID:
			return (double) DatumGetInt16(d);
		default:
			return DatumGetFloat8(DirectFunctionCall1(numeric_float8, d));
	}
}

/* Fill input from a deformed row; segments only when the model needs them. */
static void
reader_fill(const FactorReader *r, const TierModel *model, Datum *values,
			bool *nulls, TierInput *input)
{
	int			i;

	for (i = 0; i < model->nspecs; i++)
	{
		int			f = model->specs[i].factor;
		int			a = r->fattno[f];

		input->isnull[f] = nulls[a];
		input->value[f] = nulls[a] ? 0.0 : datum_to_double(values[a], r->ftype[f]);
	}
	if (!model->uses_segments)
		return;
	for (i = 0; i < TIER_NSEGMENTS; i++)
	{
		int			a = r->sattno[i];

		if (a < 0 || nulls[a])
		{
			input->segment[i] = NULL;
			input->segment_len[i] = 0;
		}
		else
		{
			text	   *t = (text *) PG_DETOAST_DATUM_PACKED(values[a]);

			input->segment[i] = VARDATA_ANY(t);
			input->segment_len[i] = VARSIZE_ANY_EXHDR(t);
		}
	}
}

static Numeric
milli_to_numeric(int64 milli)
{
	return int64_div_fast_to_numeric(milli, 3);
}


static DateADT
as_of_arg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_NARGS() > argno && !PG_ARGISNULL(argno))
		return PG_GETARG_DATEADT(argno);
	return GetSQLCurrentDate();
}

/* The model of an optional model_id argument: that one, else the active one. */
static TierModel *
model_arg(FunctionCallInfo fcinfo, int argno)
{
	int32		id;

	if (PG_NARGS() > argno && !PG_ARGISNULL(argno))
		id = PG_GETARG_INT32(argno);
	else
		id = tier_model_active_id();
	return tier_model_get(id);
}

/* ---- one account -------------------------------------------------------- */

static SPIPlanPtr account_factors_plan = NULL;
static SPIPlanPtr account_state_plan = NULL;

typedef struct AccountState
{
	char		override;		/* 0 when none */
	char	   *override_reason;
} AccountState;

/*
 * Load the factors of one account into input; ereport when the account does
 * not exist or has been merged (merged accounts are not scored). state gets
 * the account's override. Needs SPI.
 */
static void
load_account(int64 account_id, DateADT as_of, const TierModel *model,
			 TierInput *input, AccountState *state)
{
	Datum		args[2];
	int			rc;
	FactorReader reader;
	HeapTuple	tup;
	TupleDesc	desc;
	Datum	   *values;
	bool	   *nulls;
	bool		isnull;
	Datum		d;

	if (account_state_plan == NULL)
	{
		Oid			types[1] = {INT8OID};

		account_state_plan = medcrm_keep_plan("SELECT a.merged_into, a.tier_override, a.tier_override_reason"
									   "  FROM medcrm.account AS a"
									   " WHERE a.id OPERATOR(pg_catalog.=) $1",
									   1, types);
	}
	args[0] = Int64GetDatum(account_id);
	rc = SPI_execute_plan(account_state_plan, args, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("account %lld does not exist", (long long) account_id)));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	d = SPI_getbinval(tup, desc, 1, &isnull);
	if (!isnull)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("account %lld was merged into account %lld",
						(long long) account_id, (long long) DatumGetInt64(d)),
				 errdetail("Merged accounts are not scored."),
				 errhint("Score the surviving account %lld.", (long long) DatumGetInt64(d))));
	state->override = 0;
	state->override_reason = NULL;
	d = SPI_getbinval(tup, desc, 2, &isnull);
	if (!isnull)
	{
		state->override = *TextDatumGetCString(d);
		d = SPI_getbinval(tup, desc, 3, &isnull);
		state->override_reason = isnull ? pstrdup("") : TextDatumGetCString(d);
	}

	if (account_factors_plan == NULL)
	{
		Oid			types[2] = {INT8OID, DATEOID};

		account_factors_plan = medcrm_keep_plan("SELECT f.* FROM medcrm.account_factors($2) AS f"
										 " WHERE f.account_id OPERATOR(pg_catalog.=) $1",
										 2, types);
	}
	args[1] = DateADTGetDatum(as_of);
	rc = SPI_execute_plan(account_factors_plan, args, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	if (SPI_processed != 1)
		elog(ERROR, "account_factors returned no row for account " INT64_FORMAT, account_id);

	desc = SPI_tuptable->tupdesc;
	reader_init(&reader, desc, model);
	values = palloc(sizeof(Datum) * desc->natts);
	nulls = palloc(sizeof(bool) * desc->natts);
	heap_deform_tuple(SPI_tuptable->vals[0], reader.desc, values, nulls);
	memset(input, 0, sizeof(*input));
	input->as_of = as_of;
	/* explain_tier shows every factor of the model, so read them all */
	reader_fill(&reader, model, values, nulls, input);
}

Datum
medcrm_score_account(PG_FUNCTION_ARGS)
{
	int64		account_id;
	DateADT		as_of;
	TierModel  *model;
	TierInput	input;
	AccountState state;
	int64		score;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	account_id = PG_GETARG_INT64(0);
	as_of = as_of_arg(fcinfo, 2);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	model = model_arg(fcinfo, 1);
	load_account(account_id, as_of, model, &input, &state);
	score = tier_score_milli(model, &input, NULL);
	SPI_finish();
	PG_RETURN_NUMERIC(milli_to_numeric(score));
}

static const char *
norm_detail(const TierFactorSpec *spec)
{
	const char *dir = spec->lower_is_better ? "lower is better" : "higher is better";

	switch (spec->norm)
	{
		case TIER_NORM_CAP:
			return psprintf("cap %.15g, %s", spec->cap, dir);
		case TIER_NORM_LOG:
			return psprintf("log, cap %.15g, %s", spec->cap, dir);
		case TIER_NORM_RANGE:
			return psprintf("range %.15g to %.15g, %s", spec->min, spec->max, dir);
		case TIER_NORM_PERCENTILE:
			return psprintf("percentile over %d breakpoints from %.15g to %.15g, %s",
							spec->nbreaks, spec->breaks[0],
							spec->breaks[spec->nbreaks - 1], dir);
	}
	return dir;
}

static Datum
double_numeric(double x)
{
	return DirectFunctionCall1(float8_numeric, Float8GetDatum(x));
}

static void
put_row(Tuplestorestate *ts, TupleDesc desc, const char *factor,
		bool has_raw, double raw, bool has_norm, double normalized,
		bool has_weight, double weight, int64 contribution_milli,
		const char *detail)
{
	Datum		values[6];
	bool		nulls[6] = {false, !has_raw, !has_norm, !has_weight, false, detail == NULL};

	values[0] = CStringGetTextDatum(factor);
	values[1] = has_raw ? double_numeric(raw) : (Datum) 0;
	/* normalised values are shown to six decimals */
	values[2] = has_norm ? NumericGetDatum(int64_div_fast_to_numeric(llround(normalized * 1e6), 6)) : (Datum) 0;
	values[3] = has_weight ? double_numeric(weight) : (Datum) 0;
	values[4] = NumericGetDatum(milli_to_numeric(contribution_milli));
	values[5] = detail ? CStringGetTextDatum(detail) : (Datum) 0;
	tuplestore_putvalues(ts, desc, values, nulls);
}

Datum
medcrm_explain_tier(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		account_id;
	DateADT		as_of;
	TierModel  *model;
	TierInput	input;
	AccountState state;
	TierExplanation expl;
	int64		score;
	char		tier;
	int			i;
	MemoryContext per_query;
	MemoryContext old;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	account_id = PG_GETARG_INT64(0);
	as_of = as_of_arg(fcinfo, 2);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	model = model_arg(fcinfo, 1);
	load_account(account_id, as_of, model, &input, &state);
	memset(&expl, 0, sizeof(expl));
	expl.applied = palloc0(sizeof(bool) * (model->nadjustments + 1));
	score = tier_score_milli(model, &input, &expl);
	tier = tier_for_score(model, score);

	per_query = rsinfo->econtext->ecxt_per_query_memory;
	old = MemoryContextSwitchTo(per_query);
	for (i = 0; i < model->nspecs; i++)
	{
		const TierFactorSpec *spec = &model->specs[i];
		bool		isnull = input.isnull[spec->factor];
		const char *detail = norm_detail(spec);

		if (isnull)
			detail = psprintf("%s; no value, counted as %.15g", detail, spec->missing);
		put_row(rsinfo->setResult, rsinfo->setDesc, tier_factor_names[spec->factor],
				!isnull, input.value[spec->factor], true, expl.normalized[i],
				true, spec->weight, expl.contribution_milli[i], detail);
	}
	for (i = 0; i < model->nadjustments; i++)
	{
		const TierAdjustment *adj = &model->adjustments[i];

		if (!expl.applied[i])
			continue;
		put_row(rsinfo->setResult, rsinfo->setDesc,
				psprintf("adjustment: %s", adj->label),
				false, 0, false, 0, false, 0, adj->add_milli,
				"segment adjustment of the model");
	}
	if (expl.bound_milli != 0)
		put_row(rsinfo->setResult, rsinfo->setDesc, "bounds",
				false, 0, false, 0, false, 0, expl.bound_milli,
				psprintf("the sum %.3f is kept within 0 to 100",
						 (score - expl.bound_milli) / 1000.0));
	put_row(rsinfo->setResult, rsinfo->setDesc, "tier",
			false, 0, false, 0, false, 0, 0,
			psprintf("score %.3f gives tier %c under model %d (A from %.3f, B from %.3f, C from %.3f)",
					 score / 1000.0, tier, model->id,
					 model->threshold_milli[0] / 1000.0,
					 model->threshold_milli[1] / 1000.0,
					 model->threshold_milli[2] / 1000.0));
	if (state.override)
		put_row(rsinfo->setResult, rsinfo->setDesc, "override",
				false, 0, false, 0, false, 0, 0,
				psprintf("tier %c set by hand wins over the computed tier %c: %s",
						 state.override, tier, state.override_reason));
	MemoryContextSwitchTo(old);
	SPI_finish();
	return (Datum) 0;
}

/* ---- a row of factors --------------------------------------------------- */

typedef struct ScoreFactorsCache
{
	int32		model_id;
	TierModel  *model;
	Oid			tupType;
	int32		tupTypmod;
	TupleDesc	desc;
	FactorReader reader;
	Datum	   *values;
	bool	   *nulls;
	DateADT		as_of;
} ScoreFactorsCache;

/*
 * medcrm.score_factors(factors record, model_id integer DEFAULT NULL):
 * the score of a row that carries the factor columns (by name), e.g. a row of
 * account_factors() kept in a table. The model and the row layout are looked
 * up once per query; each row then costs a tuple deform and the arithmetic.
 * Date-bound adjustments are judged against the current date.
 */
Datum
medcrm_score_factors(PG_FUNCTION_ARGS)
{
	ScoreFactorsCache *cache = (ScoreFactorsCache *) fcinfo->flinfo->fn_extra;
	HeapTupleHeader td;
	HeapTupleData tuple;
	Oid			tupType;
	int32		tupTypmod;
	TierInput	input;
	int32		want_model = -1;
	bool		explicit_model = (PG_NARGS() > 1 && !PG_ARGISNULL(1));

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	td = PG_GETARG_HEAPTUPLEHEADER(0);
	tupType = HeapTupleHeaderGetTypeId(td);
	tupTypmod = HeapTupleHeaderGetTypMod(td);
	if (explicit_model)
		want_model = PG_GETARG_INT32(1);

	if (cache == NULL ||
		(explicit_model && cache->model_id != want_model) ||
		(!explicit_model && cache->model_id != -1))
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		cache = palloc0(sizeof(ScoreFactorsCache));
		MemoryContextSwitchTo(old);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		/* the cached model lives as long as the backend (see scoring_model.c) */
		cache->model = tier_model_get(explicit_model ? want_model : tier_model_active_id());
		SPI_finish();
		cache->model_id = explicit_model ? want_model : -1;
		cache->as_of = GetSQLCurrentDate();
		cache->tupType = InvalidOid;
		fcinfo->flinfo->fn_extra = cache;
	}
	if (cache->tupType != tupType || cache->tupTypmod != tupTypmod)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		TupleDesc	desc = lookup_rowtype_tupdesc(tupType, tupTypmod);

		cache->desc = CreateTupleDescCopy(desc);
		ReleaseTupleDesc(desc);
		reader_init(&cache->reader, cache->desc, cache->model);
		cache->values = palloc(sizeof(Datum) * cache->desc->natts);
		cache->nulls = palloc(sizeof(bool) * cache->desc->natts);
		cache->tupType = tupType;
		cache->tupTypmod = tupTypmod;
		MemoryContextSwitchTo(old);
	}

	tuple.t_len = HeapTupleHeaderGetDatumLength(td);
	ItemPointerSetInvalid(&(tuple.t_self));
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = td;
	heap_deform_tuple(&tuple, cache->reader.desc, cache->values, cache->nulls);
	input.as_of = cache->as_of;
	reader_fill(&cache->reader, cache->model, cache->values, cache->nulls, &input);
	PG_RETURN_NUMERIC(milli_to_numeric(tier_score_milli(cache->model, &input, NULL)));
}

/* ---- every account ------------------------------------------------------ */

static SPIPlanPtr rescore_cursor_plan = NULL;
static SPIPlanPtr rescore_update_plan = NULL;
static SPIPlanPtr lock_plan = NULL;

typedef struct RescoreBatch
{
	int			n;
	int			size;
	Datum	   *ids;
	Datum	   *tiers;
	Datum	   *scores;
} RescoreBatch;

/* Called from _PG_init: the settings of tier scoring. */
void
medcrm_scoring_init(void)
{
	DefineCustomIntVariable("medcrm.rescore_batch_size",
							"Changed accounts that medcrm.rescore() writes per UPDATE statement.",
							"Bounds the memory of a rescore that changes many accounts; each batch is one set-based UPDATE.",
							&rescore_batch_size,
							100000, 1, 10000000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
}

static void
lock_models(void)
{
	int			rc;

	/*
	 * SHARE ROW EXCLUSIVE conflicts with itself and with the ROW EXCLUSIVE of
	 * writers: one rescore or activation at a time, and the model cannot be
	 * switched under a running rescore; readers are not blocked.
	 */
	if (lock_plan == NULL)
		lock_plan = medcrm_keep_plan("LOCK TABLE medcrm.tier_model IN SHARE ROW EXCLUSIVE MODE", 0, NULL);
	rc = SPI_execute_plan(lock_plan, NULL, NULL, false, 0);
	if (rc != SPI_OK_UTILITY)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
}

static void
flush_batch(RescoreBatch *batch, int32 model_id)
{
	Datum		args[4];
	int			rc;

	if (batch->n == 0)
		return;
	if (rescore_update_plan == NULL)
	{
		Oid			types[4] = {INT8ARRAYOID, TEXTARRAYOID, NUMERICARRAYOID, INT4OID};

		rescore_update_plan =
			medcrm_keep_plan("UPDATE medcrm.account AS a"
					  "   SET tier = u.tier, tier_score = u.score,"
					  "       tier_model_id = $4, tiered_at = pg_catalog.now()"
					  "  FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2),"
					  "                 pg_catalog.unnest($3)) AS u(id, tier, score)"
					  " WHERE a.id OPERATOR(pg_catalog.=) u.id",
					  4, types);
	}
	args[0] = PointerGetDatum(construct_array(batch->ids, batch->n, INT8OID,
											  sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[1] = PointerGetDatum(construct_array(batch->tiers, batch->n, TEXTOID,
											  -1, false, TYPALIGN_INT));
	args[2] = PointerGetDatum(construct_array(batch->scores, batch->n, NUMERICOID,
											  -1, false, TYPALIGN_INT));
	args[3] = Int32GetDatum(model_id);
	rc = SPI_execute_plan(rescore_update_plan, args, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	pfree(DatumGetPointer(args[0]));
	pfree(DatumGetPointer(args[1]));
	pfree(DatumGetPointer(args[2]));
	/* the numerics belong to the batch */
	{
		int			i;

		for (i = 0; i < batch->n; i++)
			pfree(DatumGetPointer(batch->scores[i]));
	}
	batch->n = 0;
}

static char
tier_text_char(Datum d)
{
	text	   *t = DatumGetTextPP(d);

	return VARSIZE_ANY_EXHDR(t) > 0 ? *VARDATA_ANY(t) : 0;
}

Datum
medcrm_rescore(PG_FUNCTION_ARGS)
{
	DateADT		as_of = as_of_arg(fcinfo, 1);
	TierModel  *model;
	Portal		portal;
	Datum		arg;
	FactorReader reader;
	bool		reader_ready = false;
	int			att_old_tier = 0;
	int			att_old_score = 0;
	int			att_old_model = 0;
	int			att_override = 0;
	int			att_id = 0;
	Datum	   *values = NULL;
	bool	   *nulls = NULL;
	Datum		tier_text[4];
	RescoreBatch *batch;
	int64		changed = 0;
	TierInput	input;
	int			i;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	lock_models();
	model = model_arg(fcinfo, 0);

	for (i = 0; i < 4; i++)
	{
		char		c = 'A' + i;

		tier_text[i] = PointerGetDatum(cstring_to_text_with_len(&c, 1));
	}
	batch = palloc(sizeof(RescoreBatch));
	batch->n = 0;
	batch->size = rescore_batch_size;
	batch->ids = palloc(sizeof(Datum) * batch->size);
	batch->tiers = palloc(sizeof(Datum) * batch->size);
	batch->scores = palloc(sizeof(Datum) * batch->size);

	if (rescore_cursor_plan == NULL)
	{
		Oid			types[1] = {DATEOID};

		rescore_cursor_plan =
			medcrm_keep_plan("SELECT a.tier AS medcrm_old_tier,"
					  "       pg_catalog.int8(a.tier_score OPERATOR(pg_catalog.*) 1000::pg_catalog.numeric)"
					  "         AS medcrm_old_score_milli,"
					  "       a.tier_model_id AS medcrm_old_model_id,"
					  "       a.tier_override AS medcrm_override, f.*"
					  "  FROM medcrm.account_factors($1) AS f"
					  "  JOIN medcrm.account AS a ON a.id OPERATOR(pg_catalog.=) f.account_id",
					  1, types);
	}
	arg = DateADTGetDatum(as_of);
	portal = SPI_cursor_open(NULL, rescore_cursor_plan, &arg, NULL, true);
	memset(&input, 0, sizeof(input));
	input.as_of = as_of;

	for (;;)
	{
		SPITupleTable *fetched;
		uint64		nfetched;
		TupleDesc	desc;
		uint64		row;

		SPI_cursor_fetch(portal, true, Min(RESCORE_FETCH, batch->size));
		/* flush_batch() runs an UPDATE, which resets SPI_tuptable: keep ours */
		fetched = SPI_tuptable;
		nfetched = SPI_processed;
		if (nfetched == 0)
			break;
		desc = fetched->tupdesc;
		if (!reader_ready)
		{
			att_old_tier = SPI_fnumber(desc, "medcrm_old_tier") - 1;
			att_old_score = SPI_fnumber(desc, "medcrm_old_score_milli") - 1;
			att_old_model = SPI_fnumber(desc, "medcrm_old_model_id") - 1;
			att_override = SPI_fnumber(desc, "medcrm_override") - 1;
			att_id = SPI_fnumber(desc, "account_id") - 1;
			/* the descriptor outlives this batch of rows */
			reader_init(&reader, CreateTupleDescCopy(desc), model);
			values = palloc(sizeof(Datum) * desc->natts);
			nulls = palloc(sizeof(bool) * desc->natts);
			reader_ready = true;
		}
		for (row = 0; row < nfetched; row++)
		{
			int64		score;
			char		tier;
			char		old_tier;
			char		override;
			bool		same;

			heap_deform_tuple(fetched->vals[row], reader.desc, values, nulls);
			reader_fill(&reader, model, values, nulls, &input);
			score = tier_score_milli(model, &input, NULL);
			tier = tier_for_score(model, score);

			old_tier = nulls[att_old_tier] ? 0 : tier_text_char(values[att_old_tier]);
			same = old_tier == tier &&
				!nulls[att_old_score] &&
				DatumGetInt64(values[att_old_score]) == score &&
				!nulls[att_old_model] &&
				DatumGetInt32(values[att_old_model]) == model->id;
			if (same)
				continue;

			override = nulls[att_override] ? 0 : tier_text_char(values[att_override]);
			if ((override ? override : old_tier) != (override ? override : tier))
				changed++;

			batch->ids[batch->n] = values[att_id];
			batch->tiers[batch->n] = tier_text[tier - 'A'];
			batch->scores[batch->n] = NumericGetDatum(milli_to_numeric(score));
			batch->n++;
			if (batch->n == batch->size)
				flush_batch(batch, model->id);
		}
		SPI_freetuptable(fetched);
	}
	SPI_cursor_close(portal);
	flush_batch(batch, model->id);
	SPI_finish();
	PG_RETURN_INT64(changed);
}

/* ---- activation --------------------------------------------------------- */

static SPIPlanPtr deactivate_plan = NULL;
static SPIPlanPtr activate_plan = NULL;

Datum
medcrm_activate_model(PG_FUNCTION_ARGS)
{
	int32		id;
	Datum		arg;
	int			rc;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model id must not be NULL"),
				 errhint("Pass the id of a row of medcrm.tier_model.")));
	id = PG_GETARG_INT32(0);
	arg = Int32GetDatum(id);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	lock_models();
	(void) tier_model_get(id);	/* exists and is valid, or ereports */

	if (deactivate_plan == NULL)
	{
		Oid			types[1] = {INT4OID};

		deactivate_plan = medcrm_keep_plan("UPDATE medcrm.tier_model AS t SET active = false"
									" WHERE t.active AND t.id OPERATOR(pg_catalog.<>) $1",
									1, types);
		activate_plan = medcrm_keep_plan("UPDATE medcrm.tier_model AS t SET active = true"
								  " WHERE t.id OPERATOR(pg_catalog.=) $1 AND NOT t.active",
								  1, types);
	}
	rc = SPI_execute_plan(deactivate_plan, &arg, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	rc = SPI_execute_plan(activate_plan, &arg, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * BEFORE INSERT OR UPDATE FOR EACH ROW trigger on medcrm.tier_model: a row
 * that is (or becomes) active must be a valid model, whichever way it got
 * there (activate_model, a plain UPDATE, an INSERT); becoming active stamps
 * activated_at.
 */
Datum
medcrm_tier_model_check(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	newtuple;
	bool		isnull;
	bool		active;
	bool		was_active = false;
	int32		id;
	int			att_active,
				att_activated_at;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("tier_model_check() was not called by the trigger manager")));
	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ||
		TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("tier_model_check() must be fired BEFORE INSERT OR UPDATE FOR EACH ROW")));

	desc = RelationGetDescr(trigdata->tg_relation);
	newtuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
		trigdata->tg_newtuple : trigdata->tg_trigtuple;
	att_active = SPI_fnumber(desc, "active");
	att_activated_at = SPI_fnumber(desc, "activated_at");
	if (att_active <= 0 || att_activated_at <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("tier_model_check() fired on a table that is not medcrm.tier_model")));

	active = DatumGetBool(heap_getattr(newtuple, att_active, desc, &isnull)) && !isnull;
	if (!active)
		return PointerGetDatum(newtuple);
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		was_active = DatumGetBool(heap_getattr(trigdata->tg_trigtuple, att_active, desc, &isnull)) && !isnull;

	{
		static const char *const cols[4] = {"id", "weights", "thresholds", "adjustments"};
		Datum		v[4];
		int			i;

		for (i = 0; i < 4; i++)
		{
			v[i] = heap_getattr(newtuple, SPI_fnumber(desc, cols[i]), desc, &isnull);
			/* a NULL is refused by the column's NOT NULL constraint */
			if (isnull)
				return PointerGetDatum(newtuple);
		}
		id = DatumGetInt32(v[0]);
		(void) tier_model_parse(id, v[1], v[2], v[3], CurrentMemoryContext);
	}
	if (!was_active)
	{
		Datum		now = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
		bool		nonull = false;

		newtuple = heap_modify_tuple_by_cols(newtuple, desc, 1, &att_activated_at,
											 &now, &nonull);
	}
	return PointerGetDatum(newtuple);
}
