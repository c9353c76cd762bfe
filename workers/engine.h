/*
 * engine.h — the generic report engine: a layout and a database in, a
 * workbook out.
 */
#ifndef MEDCRM_REPORT_ENGINE_H
#define MEDCRM_REPORT_ENGINE_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "layout.h"
#include "period.h"
#include "util.h"

typedef struct engine_options
{
	const char *output;			/* target path of the workbook */
	const char *tmpdir;			/* scratch directory of constant_memory mode */
	int			fetch_rows;
	bool		progress;		/* sheet and row counts on stderr */
	report_period period;
	long	   *rows_written;	/* when not NULL: data rows written, on success */
} engine_options;

/* Write the workbook; returns an exit code (0, 1 or 2) and fills err. */
extern int	engine_run(PGconn *conn, const layout *l, const engine_options *opt,
					   report_error *err);

#endif
