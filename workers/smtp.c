/*
 * smtp.c — e-mailing a workbook as an attachment through an SMTP relay.
 *
 * libcurl speaks SMTP: MAIL FROM, RCPT TO for each recipient, and a MIME
 * message (a short text part and the workbook, base64) built by curl_mime.
 * With "starttls": true the session is upgraded with STARTTLS and the
 * message is only sent if that succeeds (CURLUSESSL_ALL); smtps:// is TLS
 * from the start. The relay's certificate is verified (against "ca_file"
 * when given). The credentials come from the config file (whose mode
 * config.c checks) and are handed to libcurl only; libcurl's messages, which
 * end up in report_run.delivery_error and the log, never contain them.
 */
#include "smtp.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *
smtp_display_url(const report_config *cfg)
{
	return cfg->smtp_url ? cfg->smtp_url : "none";
}

bool
smtp_send(const report_config *cfg, const smtp_message *m, report_error *err)
{
	CURL	   *c = curl_easy_init();
	struct curl_slist *rcpt = NULL;
	struct curl_slist *headers = NULL;
	curl_mime  *mime = NULL;
	curl_mimepart *part;
	char		errbuf[CURL_ERROR_SIZE] = "";
	char		line[2048];
	char		date[64];
	time_t		now = time(NULL);
	struct tm	tm;
	CURLcode	rc;
	size_t		used;

	if (c == NULL)
	{
		set_error(err, "could not start an SMTP session: out of memory");
		return false;
	}
	for (int i = 0; i < m->nrecipients; i++)
	{
		snprintf(line, sizeof(line), "<%s>", m->recipients[i]);
		rcpt = curl_slist_append(rcpt, line);
	}
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "Date: %a, %d %b %Y %H:%M:%S +0000", &tm);
	headers = curl_slist_append(headers, date);
	snprintf(line, sizeof(line), "From: medcrm reports <%s>", cfg->smtp_from);
	headers = curl_slist_append(headers, line);
	{
		/* one address per line (folded), so that no line exceeds 998 characters */
		size_t		len = 8;
		char	   *to;

		for (int i = 0; i < m->nrecipients; i++)
			len += strlen(m->recipients[i]) + 6;
		to = xcalloc(len, 1);
		used = (size_t) snprintf(to, len, "To: ");
		for (int i = 0; i < m->nrecipients; i++)
			used += (size_t) snprintf(to + used, len - used, "%s<%s>",
									  i ? ",\r\n " : "", m->recipients[i]);
		headers = curl_slist_append(headers, to);
		free(to);
	}
	snprintf(line, sizeof(line), "Subject: %s", m->subject);
	headers = curl_slist_append(headers, line);
	snprintf(line, sizeof(line), "Message-ID: %s", m->message_id);
	headers = curl_slist_append(headers, line);

	mime = curl_mime_init(c);
	part = curl_mime_addpart(mime);
	curl_mime_data(part, m->body, CURL_ZERO_TERMINATED);
	curl_mime_type(part, "text/plain; charset=us-ascii");
	part = curl_mime_addpart(mime);
	rc = curl_mime_filedata(part, m->file);
	if (rc != CURLE_OK)
	{
		set_error(err, "could not attach \"%s\": %s", m->file, curl_easy_strerror(rc));
		goto done;
	}
	curl_mime_filename(part, m->attachment_name);
	curl_mime_type(part, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
	curl_mime_encoder(part, "base64");

	curl_easy_setopt(c, CURLOPT_URL, cfg->smtp_url);
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, cfg->smtp_from);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long) (cfg->smtp_timeout_seconds < 30 ? cfg->smtp_timeout_seconds : 30));
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long) cfg->smtp_timeout_seconds);
	if (cfg->smtp_starttls)
		curl_easy_setopt(c, CURLOPT_USE_SSL, (long) CURLUSESSL_ALL);
	if (cfg->smtp_ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, cfg->smtp_ca_file);
	if (cfg->smtp_username)
	{
		curl_easy_setopt(c, CURLOPT_USERNAME, cfg->smtp_username);
		curl_easy_setopt(c, CURLOPT_PASSWORD, cfg->smtp_password);
	}
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
	{
		long		code = 0;

		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		if (code > 0)
			set_error(err, "SMTP relay %s: %s (reply %ld)", cfg->smtp_url,
					  errbuf[0] ? errbuf : curl_easy_strerror(rc), code);
		else
			set_error(err, "SMTP relay %s: %s", cfg->smtp_url,
					  errbuf[0] ? errbuf : curl_easy_strerror(rc));
	}
done:
	curl_mime_free(mime);
	curl_slist_free_all(headers);
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(c);
	return rc == CURLE_OK;
}
