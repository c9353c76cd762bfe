/*
 * udi_fuzz.c — libFuzzer harness of the GS1 UDI parser (extension/udi_parse.c).
 *
 * Besides "no crash, no leak, no undefined behaviour" it checks properties:
 * every accepted UDI has a valid GTIN, dates that exist and lot/serial of
 * 1-20 characters; rewriting it in the bracketed form and in the GS-separated
 * form parses back to the same elements; every refusal names a message, a
 * detail and a hint. Build and run: see test/fuzz/Makefile and docs/governance.md.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "udi_parse.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_same(const UdiResult *a, const UdiResult *b)
{
	if (a->has_gtin != b->has_gtin || strcmp(a->gtin, b->gtin) != 0 ||
		a->has_lot != b->has_lot || strcmp(a->lot, b->lot) != 0 ||
		a->has_serial != b->has_serial || strcmp(a->serial, b->serial) != 0 ||
		memcmp(&a->expiry, &b->expiry, sizeof(UdiDate)) != 0 ||
		memcmp(&a->manufactured, &b->manufactured, sizeof(UdiDate)) != 0)
		abort();
}

static void
check_date(const UdiDate *d)
{
	if (d->present && (d->year < 2000 || d->year > 2099 || d->month < 1 ||
					   d->month > 12 || d->day < 1 || d->day > 31))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	UdiResult	r;
	UdiResult	again;
	char		buf[256];
	int			n;

	if (!udi_parse((const char *) data, size, &r))
	{
		if (r.error == UDI_OK || r.message[0] == '\0' || r.detail[0] == '\0' || r.hint[0] == '\0')
			abort();
		return 0;
	}
	if (!r.has_gtin || strlen(r.gtin) != 14 || !udi_gtin_check_digit_ok(r.gtin, NULL))
		abort();
	if ((r.has_lot && (strlen(r.lot) < 1 || strlen(r.lot) > 20)) ||
		(r.has_serial && (strlen(r.serial) < 1 || strlen(r.serial) > 20)))
		abort();
	check_date(&r.expiry);
	check_date(&r.manufactured);

	/* round trip through the bracketed form (values never contain "(") */
	if ((!r.has_lot || strchr(r.lot, '(') == NULL) &&
		(!r.has_serial || strchr(r.serial, '(') == NULL))
	{
		n = snprintf(buf, sizeof(buf), "(01)%s", r.gtin);
		if (r.expiry.present)
			n += snprintf(buf + n, sizeof(buf) - n, "(17)%02d%02d%02d",
						  r.expiry.year % 100, r.expiry.month, r.expiry.day);
		if (r.manufactured.present)
			n += snprintf(buf + n, sizeof(buf) - n, "(11)%02d%02d%02d",
						  r.manufactured.year % 100, r.manufactured.month, r.manufactured.day);
		if (r.has_lot)
			n += snprintf(buf + n, sizeof(buf) - n, "(10)%s", r.lot);
		if (r.has_serial)
			n += snprintf(buf + n, sizeof(buf) - n, "(21)%s", r.serial);
		if (!udi_parse(buf, (size_t) n, &again))
			abort();
		check_same(&r, &again);
	}

	/* round trip through the GS-separated form: fixed-length elements first */
	n = snprintf(buf, sizeof(buf), "01%s", r.gtin);
	if (r.expiry.present)
		n += snprintf(buf + n, sizeof(buf) - n, "17%02d%02d%02d",
					  r.expiry.year % 100, r.expiry.month, r.expiry.day);
	if (r.manufactured.present)
		n += snprintf(buf + n, sizeof(buf) - n, "11%02d%02d%02d",
					  r.manufactured.year % 100, r.manufactured.month, r.manufactured.day);
	if (r.has_serial)
		n += snprintf(buf + n, sizeof(buf) - n, "21%s%s", r.serial, r.has_lot ? "\x1d" : "");
	if (r.has_lot)
		n += snprintf(buf + n, sizeof(buf) - n, "10%s", r.lot);
	if (!udi_parse(buf, (size_t) n, &again))
		abort();
	check_same(&r, &again);
	return 0;
}
