/*
 * dedupe_name.c — normalised name keys for the duplicate scan.
 *
 * Two spellings of one company should give the same key:
 *   "杭州市第一人民医院" / "杭州市第一人民医院（）" / "杭州市第一人民"
 *   "Ｍｅｄｉｔｅｃｈ Co., Ltd." / "meditech co ltd" / "MEDITECH"
 *   "华东医疗器械有限公司" / "华东医疗器械股份有限公司" / "华东医疗器械"
 * The key is built in three passes:
 *   1. characters: full-width ASCII forms (U+FF01-U+FF5E) and the ideographic
 *      space become ASCII, A-Z become a-z, punctuation and blanks (ASCII,
 *      CJK symbols, general punctuation, Latin-1 signs) become word breaks;
 *      the administrative markers 市 and 省 are dropped ("杭州市" = "杭州"),
 *      an ordinal after 第 in Chinese numerals becomes digits ("第十二" =
 *      "第12" = "第１２"), and 医科大学 is abbreviated to 医大;
 *   2. legal-form and kind suffixes are cut from the end, repeatedly, as long
 *      as something remains: Chinese ones anywhere (有限公司, 医院, ...),
 *      English ones only as whole words ("co", "ltd", "hospital", ... so that
 *      "Medco" keeps its "co");
 *   3. the word breaks are dropped.
 * Everything is byte-exact and locale-independent, so the SQL function
 * medcrm.account_name_key() can be IMMUTABLE and back an index. Pure C with
 * no server headers, so that it can be fuzzed alone.
 */
#include <stdbool.h>
#include <string.h>

#include "dedupe_name.h"

/* Suffixes in normalised form; longer ones before their own tails. */
static const char *const cjk_suffixes[] = {
	"股份有限公司", "有限责任公司", "有限公司", "公司", "集团", "医院", "总部", NULL
};
static const char *const word_suffixes[] = {
	"co", "ltd", "limited", "inc", "incorporated", "corp", "corporation",
	"company", "llc", "plc", "gmbh", "hospital", "group", NULL
};

/* Decode one UTF-8 sequence; an invalid byte is returned as itself. */
static unsigned int
utf8_next(const unsigned char *s, size_t len, size_t *adv)
{
	unsigned int c = s[0];
	size_t		n;
	size_t		i;

	if (c < 0x80)
		n = 1;
	else if ((c & 0xE0) == 0xC0)
		n = 2, c &= 0x1F;
	else if ((c & 0xF0) == 0xE0)
		n = 3, c &= 0x0F;
	else if ((c & 0xF8) == 0xF0)
		n = 4, c &= 0x07;
	else
	{
		*adv = 1;
		return 0x80000000u | s[0];	/* marker: raw byte */
	}
	if (n > len)
	{
		*adv = 1;
		return 0x80000000u | s[0];
	}
	for (i = 1; i < n; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
		{
			*adv = 1;
			return 0x80000000u | s[0];
		}
		c = (c << 6) | (s[i] & 0x3F);
	}
	*adv = n;
	return c;
}

#define CP_SHI		0x5E02		/* 市 */
#define CP_SHENG	0x7701		/* 省 */
#define CP_DI		0x7B2C		/* 第 */

/* Value of a Chinese numeral character: 0-9 digits, 10/100/1000 units, -1 otherwise. */
static int
cn_numeral(unsigned int c)
{
	switch (c)
	{
		case 0x96F6:			/* 零 */
		case 0x3007:			/* 〇 */
			return 0;
		case 0x4E00:			/* 一 */
			return 1;
		case 0x4E8C:			/* 二 */
		case 0x4E24:			/* 两 */
			return 2;
		case 0x4E09:			/* 三 */
			return 3;
		case 0x56DB:			/* 四 */
			return 4;
		case 0x4E94:			/* 五 */
			return 5;
		case 0x516D:			/* 六 */
			return 6;
		case 0x4E03:			/* 七 */
			return 7;
		case 0x516B:			/* 八 */
			return 8;
		case 0x4E5D:			/* 九 */
			return 9;
		case 0x5341:			/* 十 */
			return 10;
		case 0x767E:			/* 百 */
			return 100;
		case 0x5343:			/* 千 */
			return 1000;
		default:
			return -1;
	}
}

/*
 * Convert the Chinese numeral run s[0..len) to decimal digits in buf (room
 * for 16). "十二" -> 12, "一百零五" -> 105, "一〇五" -> 105 (digit by digit).
 * Returns the number of digits, or 0 if the run is not a well-formed number.
 */
static size_t
cn_to_digits(const unsigned int *vals, size_t n, char *buf)
{
	long		total = 0;
	long		current = 0;
	bool		has_unit = false;
	size_t		i;
	int			len;
	char		tmp[16];

	for (i = 0; i < n; i++)
		if (vals[i] >= 10)
			has_unit = true;
	if (!has_unit)
	{
		for (i = 0; i < n && i < 15; i++)
			buf[i] = (char) ('0' + vals[i]);
		return i;
	}
	for (i = 0; i < n; i++)
	{
		if (vals[i] < 10)
			current = vals[i];
		else
		{
			total += (current == 0 ? 1 : current) * (long) vals[i];
			current = 0;
		}
	}
	total += current;
	len = 0;
	do
	{
		tmp[len++] = (char) ('0' + total % 10);
		total /= 10;
	} while (total > 0 && len < 15);
	for (i = 0; i < (size_t) len; i++)
		buf[i] = tmp[len - 1 - i];
	return (size_t) len;
}

static bool
is_break(unsigned int c)
{
	if (c < 0x80)
		return !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
	return (c >= 0x00A0 && c <= 0x00BF) ||	/* Latin-1 signs, middle dot */
		(c >= 0x2000 && c <= 0x206F) ||	/* general punctuation, dashes, quotes */
		(c >= 0x3000 && c <= 0x303F) ||	/* CJK symbols and punctuation */
		(c >= 0xFE30 && c <= 0xFE4F) ||	/* CJK compatibility forms */
		(c >= 0xFF5F && c <= 0xFF65) ||	/* half-width CJK punctuation */
		c == 0x30FB;			/* katakana middle dot */
}

static bool
ends_with(const char *s, size_t len, const char *suffix, size_t *slen)
{
	*slen = strlen(suffix);
	return *slen <= len && memcmp(s + len - *slen, suffix, *slen) == 0;
}

size_t
dedupe_name_key(const char *in, size_t len, char *out)
{
	const unsigned char *s = (const unsigned char *) in;
	size_t		pos = 0;
	size_t		o = 0;
	bool		pending_break = false;
	bool		cut;
	size_t		i;
	size_t		k;

	/* 1. characters */
	while (pos < len)
	{
		size_t		adv;
		unsigned int c = utf8_next(s + pos, len - pos, &adv);

		if (c >= 0xFF01 && c <= 0xFF5E)
			c -= 0xFEE0;		/* full-width ASCII form */
		else if (c == 0x3000)
			c = ' ';			/* ideographic space */

		if (c == CP_SHI || c == CP_SHENG)
		{
			pos += adv;
			continue;
		}
		if (!(c & 0x80000000u) && is_break(c))
		{
			pending_break = (o > 0);
			pos += adv;
			continue;
		}
		if (pending_break)
		{
			out[o++] = ' ';
			pending_break = false;
		}
		if (c & 0x80000000u)
			out[o++] = (char) (c & 0xFF);
		else if (c < 0x80)
			out[o++] = (char) ((c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c);
		else
		{
			/* any other character: copy its original bytes */
			memcpy(out + o, s + pos, adv);
			o += adv;
		}
		pos += adv;

		if (c == CP_DI)
		{
			/* an ordinal in Chinese numerals: digits, if not longer than it */
			unsigned int vals[8];
			size_t		n = 0;
			size_t		run = 0;
			char		digits[16];
			size_t		nd;

			while (pos + run < len && n < 8)
			{
				size_t		a;
				int			v = cn_numeral(utf8_next(s + pos + run, len - pos - run, &a));

				if (v < 0)
					break;
				vals[n++] = (unsigned int) v;
				run += a;
			}
			if (n > 0 && (nd = cn_to_digits(vals, n, digits)) > 0 && nd <= run)
			{
				memcpy(out + o, digits, nd);
				o += nd;
				pos += run;
			}
		}
		else if (o >= 12 && memcmp(out + o - 12, "医科大学", 12) == 0)
		{
			memcpy(out + o - 12, "医大", 6);
			o -= 6;
		}
	}

	/* 2. suffixes */
	do
	{
		size_t		slen;

		cut = false;
		for (k = 0; cjk_suffixes[k] != NULL && !cut; k++)
		{
			if (ends_with(out, o, cjk_suffixes[k], &slen) && o > slen)
			{
				o -= slen;
				cut = true;
			}
		}
		for (k = 0; word_suffixes[k] != NULL && !cut; k++)
		{
			if (ends_with(out, o, word_suffixes[k], &slen) && o > slen &&
				out[o - slen - 1] == ' ')
			{
				o -= slen;
				cut = true;
			}
		}
		while (o > 0 && out[o - 1] == ' ')
			o--;
	} while (cut);

	/* 3. word breaks */
	for (i = 0, k = 0; i < o; i++)
		if (out[i] != ' ')
			out[k++] = out[i];
	out[k] = '\0';
	return k;
}
