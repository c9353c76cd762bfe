/*
 * audit_access.c — medcrm.reveal_contact(): the one way to read a contact's
 * personal data (phone, e-mail, national id) in clear.
 *
 * It is a C function and not SECURITY DEFINER on purpose: it must know who
 * is calling (current_user at the call, which a SECURITY DEFINER function
 * cannot see) and check, with the caller's own privileges and row-level
 * security, that the caller may see the contact at all.  Only then does it
 * switch to the owner of the tables to read the clear values and to append
 * the reveal to medcrm.sensitive_access_log, in the same transaction: no
 * value is returned without its log row.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "audit.h"
#include "medcrm.h"

PG_FUNCTION_INFO_V1(medcrm_reveal_contact);

/* Roles whose members may reveal: sales (their visible contacts), service, admin. */
static bool
may_reveal(Oid roleid)
{
	static const char *const roles[] = {"medcrm_admin", "medcrm_sales", "medcrm_service"};
	int			i;

	if (superuser_arg(roleid))
		return true;
	for (i = 0; i < lengthof(roles); i++)
	{
		Oid			r = get_role_oid(roles[i], true);

		if (OidIsValid(r) && has_privs_of_role(roleid, r))
			return true;
	}
	return false;
}

Datum
medcrm_reveal_contact(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			caller = GetUserId();
	int64		contact_id;
	char	   *purpose;
	AuditSecurity sec;
	int			ret;
	Datum		values[3];
	bool		nulls[3];
	int			i;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("contact id must not be null")));
	contact_id = PG_GETARG_INT64(0);
	purpose = PG_ARGISNULL(1) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (strspn(purpose, " \t\r\n") == strlen(purpose))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("purpose of the reveal must not be empty"),
				 errdetail("Every reveal of personal data is logged with its purpose."),
				 errhint("Say why the clear values are needed, e.g. 'call about work order 42'.")));
	if (!may_reveal(caller))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to reveal contact data"),
				 errdetail("Role \"%s\" is not a member of medcrm_sales, medcrm_service or medcrm_admin.",
						   GetUserNameFromId(caller, false)),
				 errhint("Use medcrm.v_contact for the masked values, or ask for a role that may reveal them.")));

	InitMaterializedSRF(fcinfo, 0);

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));

	/*
	 * As the caller: is the contact visible (grants and row-level security)?
	 * The query names everything with its schema: the caller's search_path
	 * cannot change what it reads.
	 */
	ret = SPI_execute_with_args("SELECT 1 FROM medcrm.contact WHERE id OPERATOR(pg_catalog.=) $1",
								1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(contact_id)},
								NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "checking the contact failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("contact " INT64_FORMAT " does not exist or is not visible to you", contact_id),
				 errhint("Sales see the contacts of the accounts of their territory or that they own.")));

	/* As the owner: the clear values and the log row. */
	audit_become_owner(&sec, "contact");

	ret = SPI_execute_with_args("SELECT phone, email, national_id FROM medcrm.contact "
								"WHERE id OPERATOR(pg_catalog.=) $1",
								1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(contact_id)},
								NULL, true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading the contact failed");
	for (i = 0; i < 3; i++)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1);

		nulls[i] = (v == NULL);
		values[i] = nulls[i] ? (Datum) 0 : CStringGetTextDatum(v);
	}

	ret = SPI_execute_with_args("INSERT INTO medcrm.sensitive_access_log "
								"(role, session_role, contact_id, fields, purpose) "
								"VALUES ($1, session_user, $2, "
								"'{phone,email,national_id}'::pg_catalog.text[], $3)",
								3, (Oid[]) {NAMEOID, INT8OID, TEXTOID},
								(Datum[]) {DirectFunctionCall1(namein,
															   CStringGetDatum(GetUserNameFromId(caller, false))),
										   Int64GetDatum(contact_id),
										   CStringGetTextDatum(purpose)},
								NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "logging the reveal failed: %s", SPI_result_code_string(ret));

	/* the values live in SPI's memory: into the result before SPI_finish() */
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	audit_restore(&sec);
	SPI_finish();
	return (Datum) 0;
}
