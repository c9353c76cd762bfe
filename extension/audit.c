/*
 * audit.c — the SQL-facing layer of medcrm's audit trail.
 *
 * medcrm.audit_trigger() is a statement-level AFTER trigger with transition
 * tables: for every changed row it builds, in C, a jsonb object of the
 * changed columns (old and new), and inserts the audit rows in batches with
 * one kept SPI plan (INSERT ... SELECT FROM unnest of arrays), so that COPY
 * keeps its multi-insert batching and no per-row SQL runs.  It writes as the
 * owner of medcrm.audit_log with search_path pinned, so application roles need
 * no privilege on the trail and nothing planted on their search_path is used.
 *
 * Rows are inserted unsealed.  medcrm.audit_seal() later chains them: under an
 * advisory lock it reads the id sequence, waits for every transaction still
 * holding a write lock on audit_log (so that every id up to that point is
 * committed or aborted: the chain follows id order without gaps that could
 * later be filled), then hashes the new rows in id order and appends seals of
 * up to AUDIT_SEAL_ROWS rows to medcrm.audit_seal.  Writers are never
 * serialised with each other; only sealers are.
 *
 * medcrm.audit_verify() recomputes every row hash and every seal hash and
 * names the first row that was changed, deleted, inserted or moved.
 * medcrm.audit_guard() makes the trail append-only for every role; the only
 * deletions are those of medcrm.audit_purge(), which removes whole seals older
 * than the retention period and records an anchor so the rest stays
 * verifiable.  The pure logic (canonical form, SHA-256, masking) is in
 * audit_canon.c.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#if PG_VERSION_NUM >= 170000
#include "storage/procarray.h"
#else
#include "storage/sinvaladt.h"
#endif
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "audit.h"
#include "medcrm.h"

PG_FUNCTION_INFO_V1(medcrm_audit_trigger);
PG_FUNCTION_INFO_V1(medcrm_audit_guard);
PG_FUNCTION_INFO_V1(medcrm_audit_seal);
PG_FUNCTION_INFO_V1(medcrm_audit_verify);
PG_FUNCTION_INFO_V1(medcrm_audit_verify_head);
PG_FUNCTION_INFO_V1(medcrm_audit_head);
PG_FUNCTION_INFO_V1(medcrm_audit_purge);
PG_FUNCTION_INFO_V1(medcrm_mask);

/* Audit rows per INSERT of the trigger, and rows per seal. */
#define AUDIT_INSERT_BATCH	10000
#define AUDIT_SEAL_ROWS		10000
#define AUDIT_FETCH			1000

/* Advisory lock key of the sealers: "medc" "seal". */
#define AUDIT_LOCK_KEY1		0x6d656463
#define AUDIT_LOCK_KEY2		0x7365616c

char	   *medcrm_audit_reason = NULL;
int			medcrm_audit_retention_months = 36;

/* Set only while medcrm.audit_purge() deletes expired seals. */
static bool audit_purging = false;

/* The columns of audit_log in canonical (hashed) order. */
#define AUDIT_ROW_COLUMNS \
	"id, logged_at, txid, session_role, acting_role, application, " \
	"client_addr, table_name, op, row_id, old_values, new_values, reason"

void
medcrm_audit_init(void)
{
	DefineCustomStringVariable("medcrm.reason",
							   "Why the current change is made; recorded in medcrm.audit_log.reason.",
							   "Applications SET LOCAL it before a write.",
							   &medcrm_audit_reason,
							   NULL,
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("medcrm.audit_retention_months",
							"Audit rows younger than this many months are never removed.",
							"medcrm.audit_purge() removes only older sealed rows. Superuser-only.",
							&medcrm_audit_retention_months,
							36, 1, 1200,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);
}

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------
 */

/* See audit.h. */
void
audit_become_owner(AuditSecurity *s, const char *relname)
{
	Oid			owner;
	HeapTuple	tup;
	Oid			relid = medcrm_relid(relname);

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);

	GetUserIdAndSecContext(&s->save_userid, &s->save_sec);
	SetUserIdAndSecContext(owner, s->save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	s->save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

void
audit_restore(AuditSecurity *s)
{
	AtEOXact_GUC(true, s->save_nestlevel);
	SetUserIdAndSecContext(s->save_userid, s->save_sec);
}

/* ------------------------------------------------------------------------
 * The audit trigger
 * ------------------------------------------------------------------------
 */

typedef enum AuditConv
{
	CONV_BOOL,
	CONV_INT2,
	CONV_INT4,
	CONV_INT8,
	CONV_NUMERIC,
	CONV_TEXT,
	CONV_NAME,
	CONV_DATETIME,
	CONV_JSONB,
	CONV_OTHER
} AuditConv;

typedef struct AuditCol
{
	AttrNumber	attnum;
	char	   *name;
	Oid			typid;
	int16		typlen;
	bool		typbyval;
	bool		ignore;			/* not compared by UPDATE */
	bool		mask;			/* personal data: value stored masked */
	AuditMaskKind maskkind;
	bool		key;			/* primary key column of a table without id */
	AuditConv	conv;
	FmgrInfo	tojsonb;		/* CONV_OTHER: to_jsonb for this type */
	Oid			outfunc;		/* masked columns: output function */
} AuditCol;

typedef struct AuditBatch
{
	MemoryContext cxt;
	int			n;
	Datum	   *row_ids;
	bool	   *row_id_nulls;
	Datum	   *olds;
	bool	   *old_nulls;
	Datum	   *news;
	bool	   *new_nulls;
	/* statement constants */
	Datum		table_name;
	Datum		op;
	Datum		acting_role;
	Datum		application;
	bool		application_null;
	Datum		reason;
	bool		reason_null;
} AuditBatch;

static SPIPlanPtr audit_insert_plan = NULL;

static AuditConv
audit_conv_for(Oid typid)
{
	switch (typid)
	{
		case BOOLOID:
			return CONV_BOOL;
		case INT2OID:
			return CONV_INT2;
		case INT4OID:
			return CONV_INT4;
		case INT8OID:
			return CONV_INT8;
		case NUMERICOID:
			return CONV_NUMERIC;
		case TEXTOID:
		case VARCHAROID:
			return CONV_TEXT;
		case NAMEOID:
			return CONV_NAME;
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return CONV_DATETIME;
		case JSONBOID:
			return CONV_JSONB;
		default:
			return CONV_OTHER;
	}
}

/* Fill jv with the jsonb form of one column value (what to_jsonb gives). */
static void
audit_value(AuditCol *col, Datum value, bool isnull, JsonbValue *jv)
{
	if (isnull)
	{
		jv->type = jbvNull;
		return;
	}
	if (col->mask)
	{
		char	   *clear = OidOutputFunctionCall(col->outfunc, value);

		jv->type = jbvString;
		jv->val.string.val = audit_mask(clear, col->maskkind);
		jv->val.string.len = strlen(jv->val.string.val);
		return;
	}
	switch (col->conv)
	{
		case CONV_BOOL:
			jv->type = jbvBool;
			jv->val.boolean = DatumGetBool(value);
			break;
		case CONV_INT2:
			jv->type = jbvNumeric;
			jv->val.numeric = int64_to_numeric(DatumGetInt16(value));
			break;
		case CONV_INT4:
			jv->type = jbvNumeric;
			jv->val.numeric = int64_to_numeric(DatumGetInt32(value));
			break;
		case CONV_INT8:
			jv->type = jbvNumeric;
			jv->val.numeric = int64_to_numeric(DatumGetInt64(value));
			break;
		case CONV_NUMERIC:
			jv->type = jbvNumeric;
			jv->val.numeric = DatumGetNumeric(value);
			break;
		case CONV_TEXT:
			{
				text	   *t = DatumGetTextPP(value);

				jv->type = jbvString;
				jv->val.string.val = VARDATA_ANY(t);
				jv->val.string.len = VARSIZE_ANY_EXHDR(t);
				break;
			}
		case CONV_NAME:
			jv->type = jbvString;
			jv->val.string.val = NameStr(*DatumGetName(value));
			jv->val.string.len = strlen(jv->val.string.val);
			break;
		case CONV_DATETIME:
			jv->type = jbvString;
			jv->val.string.val = JsonEncodeDateTime(NULL, value, col->typid, NULL);
			jv->val.string.len = strlen(jv->val.string.val);
			break;
		case CONV_JSONB:
		case CONV_OTHER:
			{
				Jsonb	   *jb;

				if (col->conv == CONV_JSONB)
					jb = DatumGetJsonbP(value);
				else
					jb = DatumGetJsonbP(FunctionCall1(&col->tojsonb, value));
				jv->type = jbvBinary;
				jv->val.binary.data = &jb->root;
				jv->val.binary.len = VARSIZE(jb) - VARHDRSZ;
				break;
			}
	}
}

static void
audit_push_column(JsonbParseState **st, AuditCol *col, Datum value, bool isnull)
{
	JsonbValue	key;
	JsonbValue	val;

	key.type = jbvString;
	key.val.string.val = col->name;
	key.val.string.len = strlen(col->name);
	(void) pushJsonbValue(st, WJB_KEY, &key);
	audit_value(col, value, isnull, &val);
	(void) pushJsonbValue(st, WJB_VALUE, &val);
}

static Datum
audit_finish_object(JsonbParseState **st)
{
	JsonbValue *res = pushJsonbValue(st, WJB_END_OBJECT, NULL);

	return JsonbPGetDatum(JsonbValueToJsonb(res));
}

/*
 * A whole row as a jsonb object (INSERT and DELETE).  NULL columns are left
 * out: a column missing from the object was NULL.
 */
static Datum
audit_row_object(AuditCol *cols, int ncols, TupleTableSlot *slot)
{
	JsonbParseState *st = NULL;
	int			i;

	(void) pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	for (i = 0; i < ncols; i++)
	{
		if (slot->tts_isnull[cols[i].attnum - 1])
			continue;
		audit_push_column(&st, &cols[i], slot->tts_values[cols[i].attnum - 1], false);
	}
	return audit_finish_object(&st);
}

/* Copy a jsonb built in the per-row context into the batch context. */
static Datum
audit_keep(AuditBatch *b, Datum d)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(d);
	void	   *copy = MemoryContextAlloc(b->cxt, VARSIZE(v));

	memcpy(copy, v, VARSIZE(v));
	return PointerGetDatum(copy);
}

static bool
audit_values_equal(AuditCol *col, Datum a, bool anull, Datum b, bool bnull)
{
	if (anull || bnull)
		return anull == bnull;
	if (datumIsEqual(a, b, col->typbyval, col->typlen))
		return true;
	if (col->typlen == -1)
	{
		/* Same value, different storage (compressed, toasted, short header)? */
		struct varlena *va = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(a));
		struct varlena *vb = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(b));

		return VARSIZE_ANY_EXHDR(va) == VARSIZE_ANY_EXHDR(vb) &&
			memcmp(VARDATA_ANY(va), VARDATA_ANY(vb), VARSIZE_ANY_EXHDR(va)) == 0;
	}
	return false;
}

static void
audit_flush(AuditBatch *b)
{
	Datum		values[8];
	char		nulls[8];
	int			dims[1];
	int			lbs[1] = {1};
	int			ret;

	if (b->n == 0)
		return;
	dims[0] = b->n;

	if (audit_insert_plan == NULL)
	{
		Oid			argtypes[8] = {TEXTOID, TEXTOID, NAMEOID, TEXTOID, TEXTOID,
		INT8ARRAYOID, JSONBARRAYOID, JSONBARRAYOID};

		audit_insert_plan =
			medcrm_keep_plan("INSERT INTO medcrm.audit_log (table_name, op, acting_role, "
							 "application, client_addr, reason, row_id, old_values, new_values) "
							 "SELECT $1, $2, $3, $4, pg_catalog.inet_client_addr(), $5, "
							 "u.row_id, u.old_values, u.new_values "
							 "FROM ROWS FROM (pg_catalog.unnest($6), pg_catalog.unnest($7), "
							 "pg_catalog.unnest($8)) AS u (row_id, old_values, new_values)",
							 8, argtypes);
	}

	values[0] = b->table_name;
	values[1] = b->op;
	values[2] = b->acting_role;
	values[3] = b->application;
	values[4] = b->reason;
	values[5] = PointerGetDatum(construct_md_array(b->row_ids, b->row_id_nulls, 1,
												   dims, lbs, INT8OID, 8,
												   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[6] = PointerGetDatum(construct_md_array(b->olds, b->old_nulls, 1, dims, lbs,
												   JSONBOID, -1, false, TYPALIGN_INT));
	values[7] = PointerGetDatum(construct_md_array(b->news, b->new_nulls, 1, dims, lbs,
												   JSONBOID, -1, false, TYPALIGN_INT));
	memset(nulls, ' ', sizeof(nulls));
	if (b->application_null)
		nulls[3] = 'n';
	if (b->reason_null)
		nulls[4] = 'n';

	ret = SPI_execute_plan(audit_insert_plan, values, nulls, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "inserting audit rows failed: %s", SPI_result_code_string(ret));

	b->n = 0;
	MemoryContextReset(b->cxt);
}

static void
audit_add(AuditBatch *b, Datum row_id, bool row_id_null,
		  Datum oldv, bool old_null, Datum newv, bool new_null)
{
	b->row_ids[b->n] = row_id;
	b->row_id_nulls[b->n] = row_id_null;
	b->olds[b->n] = oldv;
	b->old_nulls[b->n] = old_null;
	b->news[b->n] = newv;
	b->new_nulls[b->n] = new_null;
	b->n++;
	if (b->n >= AUDIT_INSERT_BATCH)
		audit_flush(b);
}

static TupleTableSlot *
audit_open_store(Tuplestorestate *ts, TupleDesc desc)
{
	int			ptr = tuplestore_alloc_read_pointer(ts, EXEC_FLAG_REWIND);

	tuplestore_select_read_pointer(ts, ptr);
	tuplestore_rescan(ts);
	return MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
}

static Datum
audit_row_id(TupleTableSlot *slot, int idattnum, Oid idtype, bool *isnull)
{
	Datum		v;

	if (idattnum <= 0)
	{
		*isnull = true;
		return (Datum) 0;
	}
	v = slot->tts_values[idattnum - 1];
	*isnull = slot->tts_isnull[idattnum - 1];
	if (*isnull)
		return (Datum) 0;
	if (idtype == INT4OID)
		return Int64GetDatum((int64) DatumGetInt32(v));
	if (idtype == INT2OID)
		return Int64GetDatum((int64) DatumGetInt16(v));
	return v;
}

Datum
medcrm_audit_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	Trigger    *trigger;
	AuditCol   *cols;
	int			ncols = 0;
	int			i;
	int			idattnum = 0;
	Oid			idtype = InvalidOid;
	Bitmapset  *pkattrs;
	bool		has_id;
	AuditBatch	batch;
	AuditSecurity sec;
	MemoryContext callcxt;
	MemoryContext rowcxt;
	MemoryContext oldcxt;
	const char *opname;
	char	   *relname;
	int			ret;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("audit_trigger() was not called by the trigger manager")));
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("audit_trigger() must be fired AFTER ... FOR EACH STATEMENT"),
				 errhint("Enroll the table with medcrm.audit_enable().")));

	rel = trigdata->tg_relation;
	desc = RelationGetDescr(rel);
	trigger = trigdata->tg_trigger;

	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		opname = "INSERT";
	else if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		opname = "UPDATE";
	else if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		opname = "DELETE";
	else
		opname = "TRUNCATE";

	if ((strcmp(opname, "INSERT") == 0 && trigdata->tg_newtable == NULL) ||
		(strcmp(opname, "UPDATE") == 0 &&
		 (trigdata->tg_oldtable == NULL || trigdata->tg_newtable == NULL)) ||
		(strcmp(opname, "DELETE") == 0 && trigdata->tg_oldtable == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("audit_trigger() needs the transition tables of %s", opname),
				 errhint("Enroll the table with medcrm.audit_enable().")));

	callcxt = AllocSetContextCreate(CurrentMemoryContext, "medcrm audit trigger",
									ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(callcxt);

	relname = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
										 RelationGetRelationName(rel));

	/* Columns, their conversions, and the options given as trigger arguments. */
	pkattrs = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_PRIMARY_KEY);
	cols = palloc0(sizeof(AuditCol) * desc->natts);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		AuditCol   *col;
		bool		isvarlena;
		int			a;

		if (att->attisdropped)
			continue;
		col = &cols[ncols++];
		col->attnum = att->attnum;
		col->name = NameStr(att->attname);
		col->typid = att->atttypid;
		col->typlen = att->attlen;
		col->typbyval = att->attbyval;
		col->conv = audit_conv_for(att->atttypid);
		col->key = bms_is_member(att->attnum - FirstLowInvalidHeapAttributeNumber, pkattrs);
		if (strcmp(col->name, "id") == 0 &&
			(col->typid == INT8OID || col->typid == INT4OID || col->typid == INT2OID))
		{
			idattnum = att->attnum;
			idtype = att->atttypid;
		}
		for (a = 0; a < trigger->tgnargs; a++)
		{
			const char *arg = trigger->tgargs[a];

			if ((arg[0] == '-' || arg[0] == '*') && strcmp(arg + 1, col->name) == 0)
			{
				if (arg[0] == '-')
					col->ignore = true;
				else
				{
					col->mask = true;
					col->maskkind = audit_mask_kind_for(col->name);
				}
			}
		}
		if (col->mask)
			getTypeOutputInfo(col->typid, &col->outfunc, &isvarlena);
		if (col->conv == CONV_OTHER && !col->mask)
		{
			FuncExpr   *expr;

			fmgr_info_cxt(F_TO_JSONB, &col->tojsonb, callcxt);
			expr = makeFuncExpr(F_TO_JSONB, JSONBOID,
								list_make1(makeNullConst(col->typid, att->atttypmod,
														 att->attcollation)),
								InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
			fmgr_info_set_expr((Node *) expr, &col->tojsonb);
		}
	}
	for (i = 0; i < trigger->tgnargs; i++)
	{
		const char *arg = trigger->tgargs[i];

		if ((arg[0] != '-' && arg[0] != '*') ||
			SPI_fnumber(desc, arg + 1) <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid argument \"%s\" of audit trigger \"%s\" on %s",
							arg, trigger->tgname, relname),
					 errdetail("Arguments are -column (not compared by UPDATE) or *column (stored masked)."),
					 errhint("Enroll the table again with medcrm.audit_enable().")));
	}
	has_id = idattnum > 0;

	/* Statement constants. */
	memset(&batch, 0, sizeof(batch));
	batch.cxt = AllocSetContextCreate(callcxt, "medcrm audit batch",
									  ALLOCSET_DEFAULT_SIZES);
	rowcxt = AllocSetContextCreate(callcxt, "medcrm audit row",
								   ALLOCSET_DEFAULT_SIZES);
	batch.row_ids = palloc(sizeof(Datum) * AUDIT_INSERT_BATCH);
	batch.row_id_nulls = palloc(sizeof(bool) * AUDIT_INSERT_BATCH);
	batch.olds = palloc(sizeof(Datum) * AUDIT_INSERT_BATCH);
	batch.old_nulls = palloc(sizeof(bool) * AUDIT_INSERT_BATCH);
	batch.news = palloc(sizeof(Datum) * AUDIT_INSERT_BATCH);
	batch.new_nulls = palloc(sizeof(bool) * AUDIT_INSERT_BATCH);
	batch.table_name = CStringGetTextDatum(relname);
	batch.op = CStringGetTextDatum(opname);
	batch.acting_role = DirectFunctionCall1(namein,
											CStringGetDatum(GetUserNameFromId(GetUserId(), false)));
	batch.application_null = (application_name == NULL || application_name[0] == '\0');
	if (!batch.application_null)
		batch.application = CStringGetTextDatum(application_name);
	batch.reason_null = (medcrm_audit_reason == NULL || medcrm_audit_reason[0] == '\0');
	if (!batch.reason_null)
		batch.reason = CStringGetTextDatum(medcrm_audit_reason);

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
	audit_become_owner(&sec, "audit_log");

	if (strcmp(opname, "TRUNCATE") == 0)
	{
		MemoryContextSwitchTo(batch.cxt);
		audit_add(&batch, (Datum) 0, true, (Datum) 0, true, (Datum) 0, true);
	}
	else if (strcmp(opname, "UPDATE") == 0)
	{
		TupleTableSlot *oslot = audit_open_store(trigdata->tg_oldtable, desc);
		TupleTableSlot *nslot = audit_open_store(trigdata->tg_newtable, desc);

		/*
		 * The old and new transition tables of an UPDATE hold the two
		 * versions of each row at the same position.
		 */
		for (;;)
		{
			bool		haveold = tuplestore_gettupleslot(trigdata->tg_oldtable,
														  true, false, oslot);
			bool		havenew = tuplestore_gettupleslot(trigdata->tg_newtable,
														  true, false, nslot);
			JsonbParseState *ost = NULL;
			JsonbParseState *nst = NULL;
			bool		changed = false;
			Datum		rid;
			bool		ridnull;

			if (!haveold || !havenew)
			{
				if (haveold != havenew)
					elog(ERROR, "transition tables of UPDATE differ in length");
				break;
			}
			MemoryContextReset(rowcxt);
			MemoryContextSwitchTo(rowcxt);
			slot_getallattrs(oslot);
			slot_getallattrs(nslot);
			(void) pushJsonbValue(&ost, WJB_BEGIN_OBJECT, NULL);
			(void) pushJsonbValue(&nst, WJB_BEGIN_OBJECT, NULL);
			for (i = 0; i < ncols; i++)
			{
				AuditCol   *col = &cols[i];
				int			k = col->attnum - 1;
				bool		same;

				same = audit_values_equal(col, oslot->tts_values[k], oslot->tts_isnull[k],
										  nslot->tts_values[k], nslot->tts_isnull[k]);
				if (!same && !col->ignore)
					changed = true;
				if ((!same && !col->ignore) || (!has_id && col->key))
				{
					audit_push_column(&ost, col, oslot->tts_values[k], oslot->tts_isnull[k]);
					audit_push_column(&nst, col, nslot->tts_values[k], nslot->tts_isnull[k]);
				}
			}
			if (!changed)
				continue;		/* a no-op UPDATE of this row logs nothing */
			rid = audit_row_id(nslot, idattnum, idtype, &ridnull);
			{
				Datum		o = audit_keep(&batch, audit_finish_object(&ost));
				Datum		n = audit_keep(&batch, audit_finish_object(&nst));

				MemoryContextSwitchTo(callcxt);
				audit_add(&batch, rid, ridnull, o, false, n, false);
			}
		}
		ExecDropSingleTupleTableSlot(oslot);
		ExecDropSingleTupleTableSlot(nslot);
	}
	else
	{
		bool		isinsert = (strcmp(opname, "INSERT") == 0);
		Tuplestorestate *ts = isinsert ? trigdata->tg_newtable : trigdata->tg_oldtable;
		TupleTableSlot *slot = audit_open_store(ts, desc);

		while (tuplestore_gettupleslot(ts, true, false, slot))
		{
			Datum		rid;
			bool		ridnull;
			Datum		obj;

			MemoryContextReset(rowcxt);
			MemoryContextSwitchTo(rowcxt);
			slot_getallattrs(slot);
			rid = audit_row_id(slot, idattnum, idtype, &ridnull);
			obj = audit_keep(&batch, audit_row_object(cols, ncols, slot));
			MemoryContextSwitchTo(callcxt);
			if (isinsert)
				audit_add(&batch, rid, ridnull, (Datum) 0, true, obj, false);
			else
				audit_add(&batch, rid, ridnull, obj, false, (Datum) 0, true);
		}
		ExecDropSingleTupleTableSlot(slot);
	}
	MemoryContextSwitchTo(callcxt);
	audit_flush(&batch);

	audit_restore(&sec);
	if ((ret = SPI_finish()) != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed: %s", SPI_result_code_string(ret));

	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(callcxt);
	return PointerGetDatum(NULL);
}

/* ------------------------------------------------------------------------
 * Append-only guard
 * ------------------------------------------------------------------------
 */

Datum
medcrm_audit_guard(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	const char *relname;
	const char *what;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("audit_guard() was not called by the trigger manager")));
	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("audit_guard() must be fired BEFORE ... FOR EACH STATEMENT")));

	relname = RelationGetRelationName(trigdata->tg_relation);
	if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) && audit_purging &&
		(strcmp(relname, "audit_log") == 0 || strcmp(relname, "audit_seal") == 0))
		return PointerGetDatum(NULL);

	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		what = "UPDATE";
	else if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		what = "DELETE";
	else if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		what = "TRUNCATE";
	else
		what = "INSERT";

	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("medcrm.%s is append-only", relname),
			 errdetail("%s is refused for every role, the owner included.", what),
			 errhint("Record a correction as a new change; rows older than the retention period leave only through medcrm.audit_purge().")));
	return PointerGetDatum(NULL);
}

/* ------------------------------------------------------------------------
 * Row hashes, sealing and verification
 * ------------------------------------------------------------------------
 */

/*
 * Hash of one audit_log row fetched with AUDIT_ROW_COLUMNS.  Fields are taken
 * in their binary form (integers, timestamps, the bytes of text and name, the
 * binary jsonb, which is canonical: keys sorted and unique), so no setting
 * (DateStyle, TimeZone, extra_float_digits) changes the hash and no output
 * function runs per row; client_addr is taken as its text form.
 */
static void
audit_row_hash(HeapTuple tup, TupleDesc desc, StringInfo buf, uint8 *out)
{
	int			i;
	bool		isnull;
	Datum		v;

	audit_canon_begin(buf, AUDIT_ROW_DOMAIN);
	for (i = 1; i <= 13; i++)
	{
		v = SPI_getbinval(tup, desc, i, &isnull);
		if (isnull)
		{
			audit_canon_null(buf);
			continue;
		}
		switch (i)
		{
			case 1:				/* id */
			case 10:			/* row_id */
				audit_canon_int64(buf, DatumGetInt64(v));
				break;
			case 2:				/* logged_at */
				audit_canon_int64(buf, (int64) DatumGetTimestampTz(v));
				break;
			case 3:				/* txid */
				audit_canon_int64(buf, (int64) DatumGetUInt64(v));
				break;
			case 4:				/* session_role */
			case 5:				/* acting_role */
				audit_canon_text(buf, NameStr(*DatumGetName(v)));
				break;
			case 7:				/* client_addr */
				{
					char	   *s = SPI_getvalue(tup, desc, i);

					audit_canon_text(buf, s);
					pfree(s);
					break;
				}
			default:			/* text and jsonb: their bytes */
				{
					struct varlena *p = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(v));

					audit_canon_bytes(buf, VARDATA_ANY(p), VARSIZE_ANY_EXHDR(p));
					if ((Pointer) p != DatumGetPointer(v))
						pfree(p);
				}
		}
	}
	audit_sha256(buf->data, buf->len, out);
}

typedef struct AuditHead
{
	int64		seq;
	int64		last_id;
	uint8		hash[AUDIT_HASH_LEN];
} AuditHead;

static void
copy_hash(Datum d, uint8 *out)
{
	bytea	   *b = DatumGetByteaPP(d);

	if (VARSIZE_ANY_EXHDR(b) != AUDIT_HASH_LEN)
		memset(out, 0xff, AUDIT_HASH_LEN);	/* never matches a real hash */
	else
		memcpy(out, VARDATA_ANY(b), AUDIT_HASH_LEN);
}

static bytea *
make_bytea(const char *data, size_t len)
{
	bytea	   *b = palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	memcpy(VARDATA(b), data, len);
	return b;
}

/*
 * Overwrite h with the one row (sequence, last id, hash) that sql returns, if
 * it returns one; what names the table for the can't-happen error.
 */
static void
audit_read_head(const char *sql, const char *what, AuditHead *h)
{
	int			ret = SPI_execute(sql, false, 1);

	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading %s failed: %s", what, SPI_result_code_string(ret));
	if (SPI_processed == 1)
	{
		bool		isnull;
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		h->seq = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		h->last_id = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		copy_hash(SPI_getbinval(tup, desc, 3, &isnull), h->hash);
	}
	SPI_freetuptable(SPI_tuptable);
}

/* Where the chain starts: the newest retention anchor, or the genesis. */
static void
audit_anchor(AuditHead *h)
{
	h->seq = 0;
	h->last_id = 0;
	memset(h->hash, 0, AUDIT_HASH_LEN);
	audit_read_head("SELECT seal_seq, upto_id, seal_hash FROM medcrm.audit_anchor "
					"ORDER BY id DESC LIMIT 1", "audit_anchor", h);
}

/* The newest seal, or the anchor when nothing is sealed after it. */
static void
audit_current_head(AuditHead *h)
{
	audit_anchor(h);
	audit_read_head("SELECT seq, last_id, hash FROM medcrm.audit_seal "
					"ORDER BY seq DESC LIMIT 1", "audit_seal", h);
}

static void
audit_write_seal(AuditHead *h, int64 first_id, int64 last_id, int64 count,
				 StringInfo entries)
{
	static SPIPlanPtr plan = NULL;
	Datum		values[7];
	uint8		hash[AUDIT_HASH_LEN];
	int64		seq = h->seq + 1;
	int			ret;

	if (plan == NULL)
	{
		Oid			types[7] = {INT8OID, INT8OID, INT8OID, INT8OID, BYTEAOID, BYTEAOID, BYTEAOID};

		plan = medcrm_keep_plan("INSERT INTO medcrm.audit_seal (seq, first_id, last_id, row_count, "
								"entries, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)",
								7, types);
	}
	audit_seal_hash(seq, first_id, last_id, count, h->hash,
					entries->data, entries->len, hash);
	values[0] = Int64GetDatum(seq);
	values[1] = Int64GetDatum(first_id);
	values[2] = Int64GetDatum(last_id);
	values[3] = Int64GetDatum(count);
	values[4] = PointerGetDatum(make_bytea(entries->data, entries->len));
	values[5] = PointerGetDatum(make_bytea((char *) h->hash, AUDIT_HASH_LEN));
	values[6] = PointerGetDatum(make_bytea((char *) hash, AUDIT_HASH_LEN));
	ret = SPI_execute_plan(plan, values, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "inserting a seal failed: %s", SPI_result_code_string(ret));
	h->seq = seq;
	h->last_id = last_id;
	memcpy(h->hash, hash, AUDIT_HASH_LEN);
}

/*
 * Wait until every transaction that holds a lock on audit_log conflicting
 * with SHARE (that is, every writer of the trail) has ended, as
 * WaitForLockers() does, but without waiting for autovacuum, which takes a
 * conflicting lock too and never writes audit rows.  Transactions starting
 * later are not waited for.
 */
static void
audit_wait_for_writers(Oid relid)
{
	LOCKTAG		reltag;
	VirtualTransactionId *vxids;

	SET_LOCKTAG_RELATION(reltag, MyDatabaseId, relid);
	vxids = GetLockConflicts(&reltag, ShareLock, NULL);
	for (; VirtualTransactionIdIsValid(*vxids); vxids++)
	{
#if PG_VERSION_NUM >= 170000
		PGPROC	   *proc = ProcNumberGetProc(vxids->procNumber);
#else
		PGPROC	   *proc = BackendIdGetProc(vxids->backendId);
#endif

		if (proc != NULL && (proc->statusFlags & PROC_IS_AUTOVACUUM))
			continue;
		(void) VirtualXactLock(*vxids, true);
	}
}

/*
 * Seal every committed row not sealed yet.  Must be called inside
 * SPI_connect() with the owner's privileges.  Returns the rows sealed; with
 * complain = false it quietly seals nothing where sealing is not possible.
 */
static int64
audit_seal_internal(bool complain)
{
	LOCKTAG		tag;
	Oid			relid = medcrm_relid("audit_log");
	int64		upto;
	AuditHead	head;
	int			ret;
	bool		isnull;
	Portal		portal;
	SPIPlanPtr	plan;
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		args[2];
	StringInfoData entries;
	StringInfoData canon;
	int64		count = 0;
	int64		first_id = 0;
	int64		last_id = 0;
	int64		total = 0;
	MemoryContext rowcxt;

	if (IsolationUsesXactSnapshot())
	{
		if (complain)
			ereport(ERROR,
					(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
					 errmsg("medcrm.audit_seal() must run in a READ COMMITTED transaction"),
					 errdetail("Rows committed while the seal waits would be invisible to a transaction snapshot."),
					 errhint("Call it in a transaction of its own, as cron or the report daemon does.")));
		return 0;
	}
	if (XactReadOnly)
	{
		if (complain)
			ereport(ERROR,
					(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
					 errmsg("medcrm.audit_seal() cannot run in a read-only transaction"),
					 errhint("Call it in a read-write transaction of its own.")));
		return 0;
	}

	/* Only one sealer at a time; writers are not blocked by it. */
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, AUDIT_LOCK_KEY1, AUDIT_LOCK_KEY2, 2);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);

	/* Every id up to here is taken by a transaction that holds a write lock... */
	ret = SPI_execute("SELECT pg_catalog.pg_sequence_last_value("
					  "pg_catalog.pg_get_serial_sequence('medcrm.audit_log', 'id')::pg_catalog.regclass)",
					  false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading the audit_log id sequence failed");
	upto = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull)
		upto = 0;
	SPI_freetuptable(SPI_tuptable);

	/* ... or has ended: wait for the writers still running to finish. */
	audit_wait_for_writers(relid);

	/* Every row with id <= upto is now committed or gone for good. */
	audit_current_head(&head);
	if (upto <= head.last_id)
		return 0;

	plan = SPI_prepare("SELECT " AUDIT_ROW_COLUMNS " FROM medcrm.audit_log "
					   "WHERE id OPERATOR(pg_catalog.>) $1 AND id OPERATOR(pg_catalog.<=) $2 ORDER BY id",
					   2, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	args[0] = Int64GetDatum(head.last_id);
	args[1] = Int64GetDatum(upto);
	portal = SPI_cursor_open(NULL, plan, args, NULL, false);

	initStringInfo(&entries);
	initStringInfo(&canon);
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "medcrm audit seal rows",
								   ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		SPITupleTable *tt;
		uint64		r;

		SPI_cursor_fetch(portal, true, AUDIT_FETCH);
		tt = SPI_tuptable;
		if (SPI_processed == 0)
		{
			SPI_freetuptable(tt);
			break;
		}
		for (r = 0; r < SPI_processed; r++)
		{
			uint8		hash[AUDIT_HASH_LEN];
			int64		id = DatumGetInt64(SPI_getbinval(tt->vals[r], tt->tupdesc, 1, &isnull));
			MemoryContext old = MemoryContextSwitchTo(rowcxt);

			audit_row_hash(tt->vals[r], tt->tupdesc, &canon, hash);
			MemoryContextSwitchTo(old);
			MemoryContextReset(rowcxt);
			if (count == 0)
				first_id = id;
			last_id = id;
			audit_put_entry(&entries, id, hash);
			count++;
			if (count >= AUDIT_SEAL_ROWS)
			{
				audit_write_seal(&head, first_id, last_id, count, &entries);
				total += count;
				count = 0;
				resetStringInfo(&entries);
			}
		}
		SPI_freetuptable(tt);
	}
	SPI_cursor_close(portal);
	SPI_freeplan(plan);
	if (count > 0)
	{
		audit_write_seal(&head, first_id, last_id, count, &entries);
		total += count;
	}
	MemoryContextDelete(rowcxt);
	return total;
}

Datum
medcrm_audit_seal(PG_FUNCTION_ARGS)
{
	int64		n;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	n = audit_seal_internal(true);
	SPI_finish();
	PG_RETURN_INT64(n);
}

typedef struct AuditVerify
{
	bool		ok;
	int64		checked;
	int64		first_bad;
	AuditHead	head;
	/* expected head */
	bool		check_head;
	int64		expect_id;
	uint8		expect_hash[AUDIT_HASH_LEN];
	bool		head_seen;
} AuditVerify;

/* A cursor over audit_log rows in id order, one row of look-ahead. */
typedef struct RowCursor
{
	Portal		portal;
	SPITupleTable *tt;
	uint64		n;
	uint64		pos;
	bool		done;
} RowCursor;

static HeapTuple
rc_peek(RowCursor *rc)
{
	if (rc->done)
		return NULL;
	if (rc->tt == NULL || rc->pos >= rc->n)
	{
		if (rc->tt)
			SPI_freetuptable(rc->tt);
		SPI_cursor_fetch(rc->portal, true, AUDIT_FETCH);
		rc->tt = SPI_tuptable;
		rc->n = SPI_processed;
		rc->pos = 0;
		if (rc->n == 0)
		{
			rc->done = true;
			return NULL;
		}
	}
	return rc->tt->vals[rc->pos];
}

static int64
rc_id(RowCursor *rc, HeapTuple tup)
{
	bool		isnull;

	return DatumGetInt64(SPI_getbinval(tup, rc->tt->tupdesc, 1, &isnull));
}

static void
verify_bad(AuditVerify *v, int64 id)
{
	if (v->ok)
	{
		v->ok = false;
		v->first_bad = id;
	}
}

static void
audit_verify_internal(int64 from_id, int64 to_id, AuditVerify *v)
{
	AuditHead	run;
	SPIPlanPtr	plan;
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		args[2];
	Portal		seals;
	RowCursor	rc;
	StringInfoData canon;
	MemoryContext rowcxt;
	bool		isnull;

	v->ok = true;
	v->checked = 0;
	v->first_bad = 0;
	v->head_seen = false;

	(void) audit_seal_internal(false);

	audit_anchor(&run);
	if (v->check_head && v->expect_id == run.last_id)
	{
		v->head_seen = true;
		if (memcmp(run.hash, v->expect_hash, AUDIT_HASH_LEN) != 0)
			verify_bad(v, run.last_id);
	}

	plan = SPI_prepare("SELECT seq, first_id, last_id, row_count, entries, prev_hash, hash "
					   "FROM medcrm.audit_seal WHERE seq OPERATOR(pg_catalog.>) $1 ORDER BY seq",
					   1, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed");
	args[0] = Int64GetDatum(run.seq);
	seals = SPI_cursor_open(NULL, plan, args, NULL, false);

	plan = SPI_prepare("SELECT " AUDIT_ROW_COLUMNS " FROM medcrm.audit_log "
					   "WHERE id OPERATOR(pg_catalog.>=) $1 AND id OPERATOR(pg_catalog.<=) $2 ORDER BY id",
					   2, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed");
	args[0] = Int64GetDatum(from_id);
	args[1] = Int64GetDatum(to_id);
	memset(&rc, 0, sizeof(rc));
	rc.portal = SPI_cursor_open(NULL, plan, args, NULL, false);

	initStringInfo(&canon);
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "medcrm audit verify rows",
								   ALLOCSET_DEFAULT_SIZES);

	while (v->ok)
	{
		SPITupleTable *st;
		HeapTuple	stup;
		int64		seq,
					first_id,
					last_id,
					count;
		bytea	   *entries;
		uint8		prev[AUDIT_HASH_LEN];
		uint8		stored[AUDIT_HASH_LEN];
		uint8		computed[AUDIT_HASH_LEN];
		const char *e;
		size_t		elen;
		int64		k;
		bool		sane = true;
		int64		lastseen;

		SPI_cursor_fetch(seals, true, 1);
		st = SPI_tuptable;
		if (SPI_processed == 0)
		{
			SPI_freetuptable(st);
			break;
		}
		stup = st->vals[0];
		seq = DatumGetInt64(SPI_getbinval(stup, st->tupdesc, 1, &isnull));
		first_id = DatumGetInt64(SPI_getbinval(stup, st->tupdesc, 2, &isnull));
		last_id = DatumGetInt64(SPI_getbinval(stup, st->tupdesc, 3, &isnull));
		count = DatumGetInt64(SPI_getbinval(stup, st->tupdesc, 4, &isnull));
		entries = DatumGetByteaPCopy(SPI_getbinval(stup, st->tupdesc, 5, &isnull));
		copy_hash(SPI_getbinval(stup, st->tupdesc, 6, &isnull), prev);
		copy_hash(SPI_getbinval(stup, st->tupdesc, 7, &isnull), stored);
		SPI_freetuptable(st);

		e = VARDATA_ANY(entries);
		elen = VARSIZE_ANY_EXHDR(entries);

		/* The seal itself: position, link, own hash, row list. */
		audit_seal_hash(seq, first_id, last_id, count, prev, e, elen, computed);
		if (seq != run.seq + 1 || memcmp(prev, run.hash, AUDIT_HASH_LEN) != 0 ||
			memcmp(computed, stored, AUDIT_HASH_LEN) != 0 ||
			count <= 0 || elen != (size_t) count * AUDIT_SEAL_ENTRY_LEN ||
			first_id <= run.last_id || last_id < first_id)
			sane = false;
		lastseen = run.last_id;
		for (k = 0; sane && k < count; k++)
		{
			int64		id = audit_entry_id(e + k * AUDIT_SEAL_ENTRY_LEN);

			if (id <= lastseen || (k == 0 && id != first_id) ||
				(k == count - 1 && id != last_id))
				sane = false;
			lastseen = id;
		}
		if (!sane)
		{
			verify_bad(v, Max(first_id, run.last_id + 1));
			break;
		}

		/* The rows against the list. */
		for (k = 0; v->ok && k < count; k++)
		{
			const char *entry = e + k * AUDIT_SEAL_ENTRY_LEN;
			int64		eid = audit_entry_id(entry);
			HeapTuple	tup;

			if (eid < from_id || eid > to_id)
				continue;
			/* rows before this entry were not sealed: inserted */
			while ((tup = rc_peek(&rc)) != NULL && rc_id(&rc, tup) < eid)
			{
				verify_bad(v, rc_id(&rc, tup));
				break;
			}
			if (!v->ok)
				break;
			if (tup == NULL || rc_id(&rc, tup) > eid)
			{
				verify_bad(v, eid);		/* deleted */
				break;
			}
			{
				uint8		h[AUDIT_HASH_LEN];
				MemoryContext old = MemoryContextSwitchTo(rowcxt);

				audit_row_hash(tup, rc.tt->tupdesc, &canon, h);
				MemoryContextSwitchTo(old);
				MemoryContextReset(rowcxt);
				if (memcmp(h, entry + 8, AUDIT_HASH_LEN) != 0)
				{
					verify_bad(v, eid);	/* changed */
					break;
				}
			}
			v->checked++;
			rc.pos++;
		}
		if (!v->ok)
			break;
		/* rows left inside this seal's range were not sealed: inserted */
		{
			HeapTuple	tup = rc_peek(&rc);

			if (tup != NULL && rc_id(&rc, tup) <= last_id)
			{
				verify_bad(v, rc_id(&rc, tup));
				break;
			}
		}

		run.seq = seq;
		run.last_id = last_id;
		memcpy(run.hash, stored, AUDIT_HASH_LEN);
		if (v->check_head && v->expect_id == last_id)
		{
			v->head_seen = true;
			if (memcmp(stored, v->expect_hash, AUDIT_HASH_LEN) != 0)
				verify_bad(v, first_id);
		}
	}
	SPI_cursor_close(seals);
	SPI_cursor_close(rc.portal);
	MemoryContextDelete(rowcxt);

	/* A head recorded earlier that is no longer in the chain: rows removed. */
	if (v->ok && v->check_head && !v->head_seen)
	{
		if (v->expect_id > run.last_id)
			verify_bad(v, run.last_id + 1);
		else
			verify_bad(v, v->expect_id);
	}
	v->head = run;
}

static Datum
audit_verify_result(FunctionCallInfo fcinfo, AuditVerify *v)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	InitMaterializedSRF(fcinfo, 0);
	values[0] = BoolGetDatum(v->ok);
	values[1] = Int64GetDatum(v->checked);
	values[2] = Int64GetDatum(v->first_bad);
	nulls[2] = v->ok;
	values[3] = CStringGetTextDatum(audit_hex(v->head.hash, AUDIT_HASH_LEN));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

Datum
medcrm_audit_verify(PG_FUNCTION_ARGS)
{
	AuditVerify v;
	int64		from_id = PG_ARGISNULL(0) ? PG_INT64_MIN : PG_GETARG_INT64(0);
	int64		to_id = PG_ARGISNULL(1) ? PG_INT64_MAX : PG_GETARG_INT64(1);
	Datum		result;

	memset(&v, 0, sizeof(v));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	audit_verify_internal(from_id, to_id, &v);
	SPI_finish();
	result = audit_verify_result(fcinfo, &v);
	PG_RETURN_DATUM(result);
}

Datum
medcrm_audit_verify_head(PG_FUNCTION_ARGS)
{
	AuditVerify v;
	text	   *hex;
	char	   *s;
	int			i;
	Datum		result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("expected head must not be null"),
				 errhint("Pass the id and hash that medcrm.audit_head() returned earlier; "
						 "to verify a range, call medcrm.audit_verify(from_id => ..., to_id => ...).")));
	memset(&v, 0, sizeof(v));
	v.check_head = true;
	v.expect_id = PG_GETARG_INT64(0);
	hex = PG_GETARG_TEXT_PP(1);
	s = text_to_cstring(hex);
	if (strlen(s) != AUDIT_HASH_LEN * 2 || strspn(s, "0123456789abcdefABCDEF") != AUDIT_HASH_LEN * 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid audit head hash \"%s\"", s),
				 errdetail("A head hash is 64 hexadecimal digits."),
				 errhint("Copy the hash exactly as medcrm.audit_head() returned it.")));
	for (i = 0; i < AUDIT_HASH_LEN; i++)
	{
		char		pair[3] = {s[2 * i], s[2 * i + 1], '\0'};

		v.expect_hash[i] = (uint8) strtol(pair, NULL, 16);
	}
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	audit_verify_internal(PG_INT64_MIN, PG_INT64_MAX, &v);
	SPI_finish();
	result = audit_verify_result(fcinfo, &v);
	PG_RETURN_DATUM(result);
}

Datum
medcrm_audit_head(PG_FUNCTION_ARGS)
{
	AuditHead	h;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) audit_seal_internal(false);
	audit_current_head(&h);
	SPI_finish();

	InitMaterializedSRF(fcinfo, 0);
	values[0] = Int64GetDatum(h.last_id);
	values[1] = CStringGetTextDatum(audit_hex(h.hash, AUDIT_HASH_LEN));
	tuplestore_putvalues(((ReturnSetInfo *) fcinfo->resultinfo)->setResult,
						 ((ReturnSetInfo *) fcinfo->resultinfo)->setDesc, values, nulls);
	return (Datum) 0;
}

/* ------------------------------------------------------------------------
 * Retention
 * ------------------------------------------------------------------------
 */

Datum
medcrm_audit_purge(PG_FUNCTION_ARGS)
{
	AuditVerify v;
	AuditHead	keep;
	Datum		cutoff;
	int			ret;
	bool		isnull;
	Oid			types[3] = {INTERVALOID, INT4OID, INT8OID};
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};
	int64		removed = 0;
	bool		any = false;
	SPIPlanPtr	plan;
	Portal		portal;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* The cutoff: never younger than the configured retention period. */
	args[0] = PG_ARGISNULL(0) ? (Datum) 0 : PG_GETARG_DATUM(0);
	nulls[0] = PG_ARGISNULL(0) ? 'n' : ' ';
	args[1] = Int32GetDatum(medcrm_audit_retention_months);
	plan = SPI_prepare("SELECT LEAST(pg_catalog.now() OPERATOR(pg_catalog.-) "
					   "pg_catalog.make_interval(months => $2), "
					   "pg_catalog.now() OPERATOR(pg_catalog.-) $1)", 2, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed");
	ret = SPI_execute_plan(plan, args, nulls, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "computing the retention cutoff failed");
	cutoff = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

	/* Never remove evidence of tampering. */
	memset(&v, 0, sizeof(v));
	audit_verify_internal(PG_INT64_MIN, PG_INT64_MAX, &v);
	if (!v.ok)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("audit trail fails verification at row " INT64_FORMAT, v.first_bad),
				 errdetail("Nothing was removed."),
				 errhint("Investigate with medcrm.audit_verify() before purging.")));

	/* Whole seals, oldest first, while every row of the seal is old enough. */
	audit_anchor(&keep);
	types[0] = INT8OID;
	plan = SPI_prepare("SELECT s.seq, s.last_id, s.hash, "
					   "(SELECT pg_catalog.max(l.logged_at) FROM medcrm.audit_log l "
					   "  WHERE l.id OPERATOR(pg_catalog.>=) s.first_id "
					   "    AND l.id OPERATOR(pg_catalog.<=) s.last_id) "
					   "FROM medcrm.audit_seal s WHERE s.seq OPERATOR(pg_catalog.>) $1 ORDER BY s.seq",
					   1, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed");
	args[0] = Int64GetDatum(keep.seq);
	portal = SPI_cursor_open(NULL, plan, args, NULL, false);
	for (;;)
	{
		HeapTuple	tup;
		TupleDesc	desc;
		Datum		newest;

		SPI_cursor_fetch(portal, true, 1);
		if (SPI_processed == 0)
			break;
		tup = SPI_tuptable->vals[0];
		desc = SPI_tuptable->tupdesc;
		newest = SPI_getbinval(tup, desc, 4, &isnull);
		if (!isnull && DatumGetTimestampTz(newest) >= DatumGetTimestampTz(cutoff))
			break;
		keep.seq = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		keep.last_id = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		copy_hash(SPI_getbinval(tup, desc, 3, &isnull), keep.hash);
		any = true;
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);

	if (any)
	{
		Oid			atypes[3] = {INT8OID, INT8OID, BYTEAOID};
		Datum		aargs[3];

		aargs[0] = Int64GetDatum(keep.last_id);
		aargs[1] = Int64GetDatum(keep.seq);
		aargs[2] = PointerGetDatum(make_bytea((char *) keep.hash, AUDIT_HASH_LEN));
		audit_purging = true;
		PG_TRY();
		{
			ret = SPI_execute_with_args("DELETE FROM medcrm.audit_log WHERE id OPERATOR(pg_catalog.<=) $1",
										1, atypes, aargs, NULL, false, 0);
			if (ret != SPI_OK_DELETE)
				elog(ERROR, "purging audit_log failed");
			removed = (int64) SPI_processed;
			ret = SPI_execute_with_args("DELETE FROM medcrm.audit_seal WHERE seq OPERATOR(pg_catalog.<=) $2",
										2, atypes, aargs, NULL, false, 0);
			if (ret != SPI_OK_DELETE)
				elog(ERROR, "purging audit_seal failed");
		}
		PG_FINALLY();
		{
			audit_purging = false;
		}
		PG_END_TRY();
		ret = SPI_execute_with_args("INSERT INTO medcrm.audit_anchor (upto_id, seal_seq, seal_hash, rows_removed, cutoff) "
									"VALUES ($1, $2, $3, $4, $5)",
									5, (Oid[]) {INT8OID, INT8OID, BYTEAOID, INT8OID, TIMESTAMPTZOID},
									(Datum[]) {aargs[0], aargs[1], aargs[2], Int64GetDatum(removed), cutoff},
									NULL, false, 0);
		if (ret != SPI_OK_INSERT)
			elog(ERROR, "recording the retention anchor failed");
	}
	SPI_finish();
	PG_RETURN_INT64(removed);
}

/* medcrm.mask(value text, kind text): the masked display form. */
Datum
medcrm_mask(PG_FUNCTION_ARGS)
{
	char	   *value = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *kind = text_to_cstring(PG_GETARG_TEXT_PP(1));

	PG_RETURN_TEXT_P(cstring_to_text(audit_mask(value, audit_mask_kind_parse(kind))));
}
