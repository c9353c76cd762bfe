/*
 * udi_parse.h — GS1 UDI element-string parser (pure C, no server headers).
 *
 * Shared by the SQL-facing wrapper (udi.c) and the libFuzzer harness
 * (test/fuzz/udi_fuzz.c), which is why it depends on nothing but the C library.
 */
#ifndef MEDCRM_UDI_PARSE_H
#define MEDCRM_UDI_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#define UDI_GTIN_LEN		14
#define UDI_VAR_MAXLEN		20	/* (10) lot and (21) serial: up to 20 characters */
#define UDI_MSG_LEN			192

typedef enum UdiErrorKind
{
	UDI_OK = 0,
	UDI_ERR_SYNTAX,				/* not a GS1 element string at all */
	UDI_ERR_ELEMENT				/* a known element with a bad value */
} UdiErrorKind;

typedef struct UdiDate
{
	bool		present;
	int			year;			/* 2000-2099 */
	int			month;			/* 1-12 */
	int			day;			/* 1-31; DD=00 already resolved to the month's last day */
} UdiDate;

typedef struct UdiResult
{
	bool		has_gtin;
	char		gtin[UDI_GTIN_LEN + 1];
	bool		has_lot;
	char		lot[UDI_VAR_MAXLEN + 1];
	bool		has_serial;
	char		serial[UDI_VAR_MAXLEN + 1];
	UdiDate		expiry;			/* (17) */
	UdiDate		manufactured;	/* (11) */

	/* set when udi_parse() returns false */
	UdiErrorKind error;
	char		element[8];		/* the offending application identifier, e.g. "(17)", or "" */
	char		message[UDI_MSG_LEN];	/* primary message, lower case, no period */
	char		detail[UDI_MSG_LEN];	/* a sentence */
	char		hint[UDI_MSG_LEN];	/* a sentence */
} UdiResult;

extern bool udi_parse(const char *input, size_t len, UdiResult *result);
extern bool udi_gtin_check_digit_ok(const char *digits14, int *expected);

#endif							/* MEDCRM_UDI_PARSE_H */
