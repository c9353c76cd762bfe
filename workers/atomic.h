/*
 * atomic.h — writing the workbook so that the target is never a partial file.
 */
#ifndef MEDCRM_REPORT_ATOMIC_H
#define MEDCRM_REPORT_ATOMIC_H

#include "util.h"

typedef struct atomic_file
{
	char	   *target;			/* the final path */
	char	   *temp;			/* .NAME.XXXXXX.tmp beside it */
} atomic_file;

/* Create the temporary file in the target's directory. */
extern bool atomic_begin(atomic_file *af, const char *target, report_error *err);
/* fsync the temporary file, rename it over the target, fsync the directory. */
extern bool atomic_commit(atomic_file *af, report_error *err);
/* Remove the temporary file (after a failure); the target is left as it was. */
extern void atomic_abort(atomic_file *af);

/*
 * Rename a complete file (written and fsynced elsewhere in the same file
 * system) over target and fsync the directory: the daemon's publication of a
 * staged workbook into the outbox.
 */
extern bool atomic_publish(const char *staged, const char *target, report_error *err);
/* SHA-256 of a file as 64 lower-case hex digits (hex needs 65 bytes). */
extern bool file_sha256(const char *path, char *hex, report_error *err);

#endif
