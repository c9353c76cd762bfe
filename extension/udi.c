/*
 * udi.c — SQL interface of the GS1 UDI parser: medcrm.parse_udi(text).
 *
 * The parsing itself is pure C in udi_parse.c (fuzzed on its own); this file
 * only unpacks the argument, turns a parse failure into an ereport that names
 * the bad element, and returns the elements as one row
 * (gtin, lot, serial, expiry, manufactured).
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"

#include "udi_parse.h"

PG_FUNCTION_INFO_V1(medcrm_parse_udi);

static Datum
udi_date_datum(const UdiDate *d)
{
	return DateADTGetDatum(date2j(d->year, d->month, d->day) - POSTGRES_EPOCH_JDATE);
}

/*
 * medcrm.parse_udi(udi text) RETURNS TABLE(gtin text, lot text, serial text,
 * expiry date, manufactured date): exactly one row, or an error.
 */
Datum
medcrm_parse_udi(PG_FUNCTION_ARGS)
{
	text	   *udi = PG_GETARG_TEXT_PP(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	UdiResult	r;
	Datum		values[5];
	bool		nulls[5];

	if (!udi_parse(VARDATA_ANY(udi), VARSIZE_ANY_EXHDR(udi), &r))
	{
		if (r.element[0] != '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("%s %s", r.message, r.element),
					 errdetail("%s", r.detail),
					 errhint("%s", r.hint)));
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("%s", r.message),
					 errdetail("%s", r.detail),
					 errhint("%s", r.hint)));
	}

	InitMaterializedSRF(fcinfo, 0);

	values[0] = CStringGetTextDatum(r.gtin);
	nulls[0] = false;
	nulls[1] = !r.has_lot;
	values[1] = r.has_lot ? CStringGetTextDatum(r.lot) : (Datum) 0;
	nulls[2] = !r.has_serial;
	values[2] = r.has_serial ? CStringGetTextDatum(r.serial) : (Datum) 0;
	nulls[3] = !r.expiry.present;
	values[3] = r.expiry.present ? udi_date_datum(&r.expiry) : (Datum) 0;
	nulls[4] = !r.manufactured.present;
	values[4] = r.manufactured.present ? udi_date_datum(&r.manufactured) : (Datum) 0;

	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);

	PG_FREE_IF_COPY(udi, 0);
	return (Datum) 0;
}
