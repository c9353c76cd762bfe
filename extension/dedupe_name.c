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
	"股份有限公司", "有限责任公司", "有限公司", "公司", "集团", "医院", NULL
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
