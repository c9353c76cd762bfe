/*
 * updated_at.c — keeps updated_at current on every business table.
 *
 * medcrm.set_updated_at() is a BEFORE UPDATE ... FOR EACH ROW trigger. It sets
 * the row's updated_at column to now() (the transaction timestamp, as the INSERT default) unless the UPDATE
 * itself assigned a different value (as replication or a restore may).
 * Only UPDATE is handled: on INSERT the column default already applies, and a
 * row-level BEFORE INSERT trigger would disable COPY's multi-insert batching.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(medcrm_set_updated_at);

Datum
medcrm_set_updated_at(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;
	HeapTuple	newtuple;
	int			attnum;
	Datum		oldvalue;
	Datum		newvalue;
	bool		oldnull;
	bool		newnull;
	Datum		now;
	bool		isnull = false;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("set_updated_at() was not called by the trigger manager")));
	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("set_updated_at() must be fired BEFORE UPDATE FOR EACH ROW")));

	tupdesc = RelationGetDescr(trigdata->tg_relation);
	attnum = SPI_fnumber(tupdesc, "updated_at");
	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("table \"%s\" has no column \"updated_at\"",
						RelationGetRelationName(trigdata->tg_relation))));
	if (TupleDescAttr(tupdesc, attnum - 1)->atttypid != TIMESTAMPTZOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"updated_at\" of table \"%s\" must be timestamptz",
						RelationGetRelationName(trigdata->tg_relation))));

	newtuple = trigdata->tg_newtuple;
	oldvalue = heap_getattr(trigdata->tg_trigtuple, attnum, tupdesc, &oldnull);
	newvalue = heap_getattr(newtuple, attnum, tupdesc, &newnull);

	/* An explicit new value in the UPDATE wins. */
	if (oldnull != newnull ||
		(!newnull && !datumIsEqual(oldvalue, newvalue, true, sizeof(TimestampTz))))
		return PointerGetDatum(newtuple);

	now = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	return PointerGetDatum(heap_modify_tuple_by_cols(newtuple, tupdesc,
													 1, &attnum, &now, &isnull));
}
