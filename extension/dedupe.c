/*
 * dedupe.c — SQL interface of the account name key:
 * medcrm.account_name_key(name text) RETURNS text, IMMUTABLE.
 *
 * The normalisation is pure C in dedupe_name.c; this wrapper only moves the
 * text in and out.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "dedupe_name.h"

PG_FUNCTION_INFO_V1(medcrm_account_name_key);

Datum
medcrm_account_name_key(PG_FUNCTION_ARGS)
{
	text	   *name = PG_GETARG_TEXT_PP(0);
	size_t		len = VARSIZE_ANY_EXHDR(name);
	text	   *result = (text *) palloc(VARHDRSZ + len + 1);
	size_t		keylen;

	keylen = dedupe_name_key(VARDATA_ANY(name), len, VARDATA(result));
	SET_VARSIZE(result, VARHDRSZ + keylen);
	PG_FREE_IF_COPY(name, 0);
	PG_RETURN_TEXT_P(result);
}
