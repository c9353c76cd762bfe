/*
 * spi_plans.c — prepared SPI statements that live for the whole backend.
 *
 * The C capabilities prepare their statements once, on first use, and keep
 * them with SPI_keepplan; this is the one place that does it and reports a
 * failure (which only a broken installation can cause).
 */
#include "postgres.h"

#include "executor/spi.h"

#include "medcrm.h"

SPIPlanPtr
medcrm_keep_plan(const char *sql, int nargs, Oid *argtypes)
{
	return medcrm_keep_plan_opts(sql, nargs, argtypes, 0);
}

/* The same with cursor options (e.g. CURSOR_OPT_CUSTOM_PLAN: planned per call). */
SPIPlanPtr
medcrm_keep_plan_opts(const char *sql, int nargs, Oid *argtypes, int cursor_options)
{
	SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, argtypes, cursor_options);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	return plan;
}
