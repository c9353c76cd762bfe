/*
 * smtp.h — e-mailing a workbook as an attachment (libcurl SMTP).
 */
#ifndef MEDCRM_REPORT_SMTP_H
#define MEDCRM_REPORT_SMTP_H

#include "config.h"
#include "util.h"

typedef struct smtp_message
{
	const char *const *recipients;	/* plain addresses */
	int			nrecipients;
	const char *subject;		/* ASCII */
	const char *body;			/* ASCII text */
	const char *file;			/* the workbook to attach */
	const char *attachment_name;	/* its name in the e-mail */
	const char *message_id;		/* "<…@…>" */
} smtp_message;

/* Send m through the relay of cfg; false and err (never the password) on failure. */
extern bool smtp_send(const report_config *cfg, const smtp_message *m, report_error *err);
/* The relay's URL without credentials, for logs. */
extern const char *smtp_display_url(const report_config *cfg);

#endif
