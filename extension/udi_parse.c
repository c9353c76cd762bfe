/*
 * udi_parse.c — parse a GS1 UDI element string into its elements.
 *
 * medcrm reads the unique device identifier of an installed device (GS1
 * General Specifications, "GS1 element strings") so that a recall can target
 * lots and serials reliably. Two spellings are accepted:
 *
 *   bracketed (human-readable):  (01)09506000134352(17)201225(10)A123(21)S1
 *   FNC1/GS-separated (scanned): [symbology id][GS]0109506000134352
 *                                17201225 10A123 <GS> 21S1
 *
 * Supported application identifiers: (01) GTIN-14 with its mod-10 check
 * digit, (11) production date and (17) expiry date as YYMMDD (DD = 00 means
 * the last day of the month, per GS1), (10) lot and (21) serial number
 * (1-20 characters of GS1 character set 82). (01) is required, every element
 * may appear once, anything else is an error that names the element.
 *
 * Years are read as 20YY. GS1's sliding century window depends on today's
 * date, which would make the parser unusable in constraints (IMMUTABLE);
 * devices that carry a UDI were made after 2000, so nothing is lost.
 *
 * This file is pure C on purpose (no server headers, no allocation): the
 * SQL wrapper (udi.c) turns a UdiResult into a row or an ereport, and the
 * libFuzzer harness (test/fuzz/udi_fuzz.c) links it directly.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "udi_parse.h"

#define ASCII_GS	0x1d

typedef enum UdiAi
{
	AI_GTIN = 0,
	AI_PROD_DATE,
	AI_EXPIRY,
	AI_LOT,
	AI_SERIAL,
	AI_COUNT
} UdiAi;

typedef struct UdiAiDef
{
	const char *code;
	int			fixed_len;		/* 0 = variable, up to UDI_VAR_MAXLEN */
	const char *what;
} UdiAiDef;

static const UdiAiDef ai_defs[AI_COUNT] = {
	[AI_GTIN] = {"01", UDI_GTIN_LEN, "GTIN"},
	[AI_PROD_DATE] = {"11", 6, "production date"},
	[AI_EXPIRY] = {"17", 6, "expiry date"},
	[AI_LOT] = {"10", 0, "lot number"},
	[AI_SERIAL] = {"21", 0, "serial number"},
};

static void
set_error(UdiResult *r, UdiErrorKind kind, const char *element,
		  const char *message, const char *hint, const char *detail_fmt,...)
	__attribute__((format(printf, 6, 7)));

static void
set_error(UdiResult *r, UdiErrorKind kind, const char *element,
		  const char *message, const char *hint, const char *detail_fmt,...)
{
	va_list		ap;

	r->error = kind;
	snprintf(r->element, sizeof(r->element), "%s", element ? element : "");
	snprintf(r->message, sizeof(r->message), "%s", message);
	snprintf(r->hint, sizeof(r->hint), "%s", hint);
	va_start(ap, detail_fmt);
	vsnprintf(r->detail, sizeof(r->detail), detail_fmt, ap);
	va_end(ap);
}

/* A printable rendering of an input byte for messages. */
static void
describe_char(unsigned char c, char *buf, size_t buflen)
{
	if (c == ' ')
		snprintf(buf, buflen, "a space");
	else if (c >= 0x21 && c <= 0x7e)
		snprintf(buf, buflen, "\"%c\"", c);
	else
		snprintf(buf, buflen, "byte 0x%02X", c);
}

/* GS1 AI encodable character set 82. */
static bool
is_cset82(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
		return true;
	return c != '\0' && strchr("!\"%&'()*+,-./:;<=>?_", c) != NULL;
}

static bool
all_digits(const char *s, size_t len)
{
	size_t		i;

	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

bool
udi_gtin_check_digit_ok(const char *d, int *expected)
{
	int			sum = 0;
	int			i;
	int			check;

	/* weights 3,1,3,... from the digit left of the check digit */
	for (i = 0; i < UDI_GTIN_LEN - 1; i++)
		sum += (d[i] - '0') * ((i % 2 == 0) ? 3 : 1);
	check = (10 - sum % 10) % 10;
	if (expected)
		*expected = check;
	return check == d[UDI_GTIN_LEN - 1] - '0';
}

static int
days_in_month(int year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
		return 29;
	return days[month - 1];
}

static const char date_hint[] =
"Dates are six digits YYMMDD; DD 00 stands for the last day of the month.";

/* Validate one element value; on success store it in r. */
static bool
store_element(UdiResult *r, UdiAi ai, const char *val, size_t len,
			  const char *label)
{
	const UdiAiDef *def = &ai_defs[ai];
	char		shown[UDI_VAR_MAXLEN + 1];
	size_t		i;

	if (def->fixed_len > 0 && (len != (size_t) def->fixed_len || !all_digits(val, len)))
	{
		set_error(r, UDI_ERR_ELEMENT, label, "invalid UDI element",
				  ai == AI_GTIN ?
				  "Write the GTIN-14 with its leading zeros and check digit." : date_hint,
				  "The %s must be exactly %d digits; %zu character%s found.",
				  def->what, def->fixed_len, len, len == 1 ? " was" : "s were");
		return false;
	}

	switch (ai)
	{
		case AI_GTIN:
			{
				int			expected;

				if (!udi_gtin_check_digit_ok(val, &expected))
				{
					set_error(r, UDI_ERR_ELEMENT, label, "invalid UDI element",
							  "Check the GTIN for a typing or scanning error.",
							  "The check digit of GTIN %.14s is %c; it should be %d.",
							  val, val[UDI_GTIN_LEN - 1], expected);
					return false;
				}
				memcpy(r->gtin, val, UDI_GTIN_LEN);
				r->gtin[UDI_GTIN_LEN] = '\0';
				r->has_gtin = true;
				return true;
			}
		case AI_PROD_DATE:
		case AI_EXPIRY:
			{
				UdiDate    *d = (ai == AI_EXPIRY) ? &r->expiry : &r->manufactured;
				int			year = 2000 + (val[0] - '0') * 10 + (val[1] - '0');
				int			month = (val[2] - '0') * 10 + (val[3] - '0');
				int			day = (val[4] - '0') * 10 + (val[5] - '0');

				if (month < 1 || month > 12)
				{
					set_error(r, UDI_ERR_ELEMENT, label, "invalid UDI element", date_hint,
							  "The %s %.6s has month %02d, which does not exist.",
							  def->what, val, month);
					return false;
				}
				if (day == 0)
					day = days_in_month(year, month);
				else if (day > days_in_month(year, month))
				{
					set_error(r, UDI_ERR_ELEMENT, label, "invalid UDI element", date_hint,
							  "The %s %.6s has day %02d, but %04d-%02d has %d days.",
							  def->what, val, day, year, month, days_in_month(year, month));
					return false;
				}
				d->present = true;
				d->year = year;
				d->month = month;
				d->day = day;
				return true;
			}
		case AI_LOT:
		case AI_SERIAL:
			if (len == 0 || len > UDI_VAR_MAXLEN)
			{
				set_error(r, UDI_ERR_ELEMENT, label, "invalid UDI element",
						  "Lot and serial numbers have 1 to 20 characters.",
						  "The %s has %zu characters.", def->what, len);
				return false;
			}
			for (i = 0; i < len; i++)
			{
				if (!is_cset82((unsigned char) val[i]))
				{
					char		c[16];

					describe_char((unsigned char) val[i], c, sizeof(c));
					set_error(r, UDI_ERR_ELEMENT, label, "invalid UDI element",
							  "Lot and serial numbers use letters, digits and the GS1 punctuation !\"%&'()*+,-./:;<=>?_ only.",
							  "The %s contains %s at position %zu.", def->what, c, i + 1);
					return false;
				}
			}
			memcpy(shown, val, len);
			shown[len] = '\0';
			if (ai == AI_LOT)
			{
				memcpy(r->lot, shown, len + 1);
				r->has_lot = true;
			}
			else
			{
				memcpy(r->serial, shown, len + 1);
				r->has_serial = true;
			}
			return true;
		case AI_COUNT:
			break;
	}
	return false;
}

static int
lookup_ai(const char *code, size_t len)
{
	int			i;

	for (i = 0; i < AI_COUNT; i++)
		if (len == 2 && code[0] == ai_defs[i].code[0] && code[1] == ai_defs[i].code[1])
			return i;
	return -1;
}

static const char unsupported_hint[] =
"A UDI holds the elements (01) GTIN, (11) production date, (17) expiry date, (10) lot and (21) serial.";

/* Record element ai as seen; refuse a second occurrence. */
static bool
mark_seen(UdiResult *r, bool *seen, UdiAi ai, const char *label)
{
	if (seen[ai])
	{
		set_error(r, UDI_ERR_ELEMENT, label, "invalid UDI element",
				  "Give every element once.",
				  "The %s element %s appears more than once.", ai_defs[ai].what, label);
		return false;
	}
	seen[ai] = true;
	return true;
}

/* (01)...(17)...: values run to the next "(" or the end. */
static bool
parse_bracketed(const char *s, size_t len, UdiResult *r, bool *seen)
{
	size_t		pos = 0;

	while (pos < len)
	{
		size_t		ai_start;
		size_t		ai_len;
		size_t		val_start;
		char		label[8];
		int			ai;

		if (s[pos] != '(')
		{
			char		c[16];

			describe_char((unsigned char) s[pos], c, sizeof(c));
			set_error(r, UDI_ERR_SYNTAX, NULL, "invalid UDI syntax",
					  "Write each element as (AI)value, e.g. (01)09506000134352(10)A123.",
					  "Expected \"(\" at position %zu, found %s.", pos + 1, c);
			return false;
		}
		ai_start = ++pos;
		while (pos < len && s[pos] >= '0' && s[pos] <= '9' && pos - ai_start < 4)
			pos++;
		ai_len = pos - ai_start;
		if (ai_len < 2 || pos >= len || s[pos] != ')')
		{
			set_error(r, UDI_ERR_SYNTAX, NULL, "invalid UDI syntax",
					  "Application identifiers are 2 to 4 digits in parentheses, e.g. (01).",
					  "The application identifier starting at position %zu is not closed by \")\" after 2 to 4 digits.",
					  ai_start);
			return false;
		}
		snprintf(label, sizeof(label), "(%.*s)", (int) ai_len, s + ai_start);
		pos++;					/* ')' */
		val_start = pos;
		while (pos < len && s[pos] != '(')
			pos++;

		ai = lookup_ai(s + ai_start, ai_len);
		if (ai < 0)
		{
			set_error(r, UDI_ERR_ELEMENT, label, "unsupported UDI element",
					  unsupported_hint,
					  "The application identifier %s is not one medcrm reads.", label);
			return false;
		}
		if (!mark_seen(r, seen, (UdiAi) ai, label) ||
			!store_element(r, (UdiAi) ai, s + val_start, pos - val_start, label))
			return false;
	}
	return true;
}

/* 01...17...10...<GS>21...: fixed-length elements need no separator. */
static bool
parse_separated(const char *s, size_t len, UdiResult *r, bool *seen)
{
	size_t		pos = 0;

	while (pos < len)
	{
		char		label[8];
		int			ai;
		size_t		val_start;
		size_t		val_end;

		if (len - pos < 2 || s[pos] < '0' || s[pos] > '9' || s[pos + 1] < '0' || s[pos + 1] > '9')
		{
			char		c[16];
			size_t		bad = (s[pos] >= '0' && s[pos] <= '9') ? pos + 1 : pos;

			if (bad < len)
				describe_char((unsigned char) s[bad], c, sizeof(c));
			else
				snprintf(c, sizeof(c), "the end");
			set_error(r, UDI_ERR_SYNTAX, NULL, "invalid UDI syntax",
					  "Scanned UDIs are application identifiers and values, variable-length values ended by GS (0x1D); or write the bracketed form (01)...(10)...",
					  "Expected an application identifier at position %zu, found %s.",
					  bad + 1, c);
			return false;
		}
		ai = lookup_ai(s + pos, 2);
		if (ai < 0)
		{
			size_t		n = 2;

			/* name the longest digit run a GS1 AI could be (2-4 digits) */
			while (n < 4 && pos + n < len && s[pos + n] >= '0' && s[pos + n] <= '9')
				n++;
			snprintf(label, sizeof(label), "(%.*s)", (int) n, s + pos);
			set_error(r, UDI_ERR_ELEMENT, label, "unsupported UDI element",
					  unsupported_hint,
					  "The data at position %zu starts with application identifier %s (or a longer one beginning with those digits), which medcrm does not read.",
					  pos + 1, label);
			return false;
		}
		snprintf(label, sizeof(label), "(%s)", ai_defs[ai].code);
		val_start = pos + 2;
		if (ai_defs[ai].fixed_len > 0)
		{
			val_end = val_start + ai_defs[ai].fixed_len;
			if (val_end > len)
				val_end = len;
			/* a GS ends the element early: report its true length */
			{
				const char *gs = memchr(s + val_start, ASCII_GS, val_end - val_start);

				if (gs)
					val_end = (size_t) (gs - s);
			}
		}
		else
		{
			const char *gs = memchr(s + val_start, ASCII_GS, len - val_start);

			val_end = gs ? (size_t) (gs - s) : len;
		}
		if (!mark_seen(r, seen, (UdiAi) ai, label) ||
			!store_element(r, (UdiAi) ai, s + val_start, val_end - val_start, label))
			return false;
		pos = val_end;
		/* one separator may follow any element; not at the very end */
		if (pos < len && s[pos] == ASCII_GS)
		{
			pos++;
			if (pos == len)
			{
				set_error(r, UDI_ERR_SYNTAX, NULL, "invalid UDI syntax",
						  "Remove the trailing separator.",
						  "The UDI ends with a GS separator and no element after it.");
				return false;
			}
		}
	}
	return true;
}

/*
 * Parse input[0..len) (not necessarily NUL-terminated) into *r. Returns true
 * on success; on failure r->error, element, message, detail and hint say why.
 */
bool
udi_parse(const char *input, size_t len, UdiResult *r)
{
	bool		seen[AI_COUNT] = {false};
	const char *s = input;
	bool		ok;

	memset(r, 0, sizeof(*r));

	/* surrounding blanks are a copy-and-paste artefact, not data */
	while (len > 0 && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
		s++, len--;
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
					   s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;

	if (len == 0)
	{
		set_error(r, UDI_ERR_SYNTAX, NULL, "invalid UDI syntax",
				  "Use NULL for a device without a UDI.",
				  "The UDI is empty.");
		return false;
	}

	if (s[0] == '(')
		ok = parse_bracketed(s, len, r, seen);
	else
	{
		/* ISO/IEC 15424 symbology identifier of a GS1 symbol, e.g. ]d2 */
		if (len >= 3 && s[0] == ']' &&
			((s[1] == 'C' && s[2] == '1') || (s[1] == 'd' && s[2] == '2') ||
			 (s[1] == 'Q' && s[2] == '3') || (s[1] == 'e' && s[2] == '0') ||
			 (s[1] == 'J' && s[2] == '1')))
			s += 3, len -= 3;
		/* FNC1 in first position, as a scanner transmits it */
		if (len > 0 && s[0] == ASCII_GS)
			s++, len--;
		if (len == 0)
		{
			set_error(r, UDI_ERR_SYNTAX, NULL, "invalid UDI syntax",
					  "Use NULL for a device without a UDI.",
					  "The UDI has no element after its symbology identifier or separator.");
			return false;
		}
		/* a bare GTIN-14, a common data-entry slip */
		if (len == UDI_GTIN_LEN && all_digits(s, len))
		{
			set_error(r, UDI_ERR_SYNTAX, NULL, "invalid UDI syntax",
					  "Write the GTIN as the element (01), e.g. (01)09506000134352.",
					  "The UDI is 14 digits without an application identifier.");
			return false;
		}
		ok = parse_separated(s, len, r, seen);
	}
	if (!ok)
		return false;

	if (!r->has_gtin)
	{
		set_error(r, UDI_ERR_ELEMENT, "(01)", "invalid UDI element",
				  "Start the UDI with (01) and the device's GTIN-14.",
				  "A UDI must contain the device identifier (01).");
		return false;
	}
	return true;
}
