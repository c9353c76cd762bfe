/*
 * audit_canon.c — pure logic of the tamper-evident audit trail.
 *
 * Everything here is free of SPI, catalogs and triggers, so that what is
 * hashed and how values are masked can be read (and tested) on its own:
 *
 *  - the canonical form of an audit row: a domain string, then every field in
 *    a fixed order as a tag byte (0 = NULL, 1 = value), a 4-byte big-endian
 *    length and the bytes.  Integers are 8-byte big-endian.  No field can run
 *    into its neighbour, so two different rows never share an encoding;
 *  - the hash of a seal: SHA-256 over the seal's position, id range, row count,
 *    the previous seal's hash and its list of (id, row hash) entries;
 *  - masking of personal data (phone, e-mail, national id) for v_contact and
 *    for the values the trail keeps of those columns.
 *
 * SHA-256 is PostgreSQL's own (common/cryptohash.h), the implementation the
 * server uses for SCRAM and sha256().
 */
#include "postgres.h"

#include "common/cryptohash.h"
#include "mb/pg_wchar.h"

#include "audit.h"

static void
put_be32(StringInfo buf, uint32 v)
{
	char		b[4];

	b[0] = (char) (v >> 24);
	b[1] = (char) (v >> 16);
	b[2] = (char) (v >> 8);
	b[3] = (char) v;
	appendBinaryStringInfo(buf, b, 4);
}

static void
put_be64(StringInfo buf, uint64 v)
{
	put_be32(buf, (uint32) (v >> 32));
	put_be32(buf, (uint32) v);
}

void
audit_canon_begin(StringInfo buf, const char *domain)
{
	resetStringInfo(buf);
	appendBinaryStringInfo(buf, domain, strlen(domain) + 1);
}

void
audit_canon_null(StringInfo buf)
{
	appendStringInfoChar(buf, 0);
}

void
audit_canon_bytes(StringInfo buf, const char *data, int len)
{
	appendStringInfoChar(buf, 1);
	put_be32(buf, (uint32) len);
	appendBinaryStringInfo(buf, data, len);
}

void
audit_canon_text(StringInfo buf, const char *str)
{
	if (str == NULL)
		audit_canon_null(buf);
	else
		audit_canon_bytes(buf, str, strlen(str));
}

void
audit_canon_int64(StringInfo buf, int64 value)
{
	appendStringInfoChar(buf, 1);
	put_be32(buf, 8);
	put_be64(buf, (uint64) value);
}

void
audit_sha256(const char *data, size_t len, uint8 *out)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	if (ctx == NULL)
		elog(ERROR, "could not create SHA-256 context");
	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) data, len) < 0 ||
		pg_cryptohash_final(ctx, out, AUDIT_HASH_LEN) < 0)
	{
		const char *err = pg_cryptohash_error(ctx);

		pg_cryptohash_free(ctx);
		elog(ERROR, "could not compute SHA-256: %s", err);
	}
	pg_cryptohash_free(ctx);
}

/*
 * The hash of one seal.  prev_hash is the hash of the seal before (all zero
 * bytes before the first seal); entries is the seal's row list.
 */
void
audit_seal_hash(int64 seq, int64 first_id, int64 last_id, int64 row_count,
				const uint8 *prev_hash, const char *entries,
				size_t entries_len, uint8 *out)
{
	StringInfoData buf;

	initStringInfo(&buf);
	audit_canon_begin(&buf, AUDIT_SEAL_DOMAIN);
	audit_canon_int64(&buf, seq);
	audit_canon_int64(&buf, first_id);
	audit_canon_int64(&buf, last_id);
	audit_canon_int64(&buf, row_count);
	audit_canon_bytes(&buf, (const char *) prev_hash, AUDIT_HASH_LEN);
	audit_canon_bytes(&buf, entries, (int) entries_len);
	audit_sha256(buf.data, buf.len, out);
	pfree(buf.data);
}

void
audit_put_entry(StringInfo buf, int64 id, const uint8 *hash)
{
	put_be64(buf, (uint64) id);
	appendBinaryStringInfo(buf, (const char *) hash, AUDIT_HASH_LEN);
}

int64
audit_entry_id(const char *entry)
{
	const unsigned char *p = (const unsigned char *) entry;
	uint64		v = 0;
	int			i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return (int64) v;
}

char *
audit_hex(const uint8 *data, int len)
{
	static const char digits[] = "0123456789abcdef";
	char	   *out = palloc(len * 2 + 1);
	int			i;

	for (i = 0; i < len; i++)
	{
		out[2 * i] = digits[data[i] >> 4];
		out[2 * i + 1] = digits[data[i] & 0x0f];
	}
	out[len * 2] = '\0';
	return out;
}

/* Which masking a column gets, from its name. */
AuditMaskKind
audit_mask_kind_for(const char *name)
{
	if (strstr(name, "email") != NULL || strstr(name, "mail") != NULL)
		return AUDIT_MASK_EMAIL;
	if (strstr(name, "phone") != NULL || strstr(name, "mobile") != NULL)
		return AUDIT_MASK_PHONE;
	return AUDIT_MASK_ID;
}

AuditMaskKind
audit_mask_kind_parse(const char *kind)
{
	if (strcmp(kind, "phone") == 0)
		return AUDIT_MASK_PHONE;
	if (strcmp(kind, "email") == 0)
		return AUDIT_MASK_EMAIL;
	if (strcmp(kind, "national_id") == 0 || strcmp(kind, "id") == 0)
		return AUDIT_MASK_ID;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown mask kind \"%s\"", kind),
			 errhint("Use phone, email or national_id.")));
	return AUDIT_MASK_ID;		/* keep compiler quiet */
}

/*
 * Keep the first "head" and the last "tail" characters of str[0..len) and
 * replace the characters between by '*'.  A value shorter than
 * head + tail + min_hidden characters is replaced completely.
 */
static void
mask_span(StringInfo out, const char *str, int len, int head, int tail,
		  int min_hidden)
{
	int			nchars = pg_mbstrlen_with_len(str, len);
	int			i;
	const char *p = str;

	if (nchars < head + tail + min_hidden)
	{
		head = 0;
		tail = 0;
	}
	for (i = 0; i < nchars; i++)
	{
		int			l = pg_mblen(p);

		if (i < head || i >= nchars - tail)
			appendBinaryStringInfo(out, p, l);
		else
			appendStringInfoChar(out, '*');
		p += l;
	}
}

/*
 * Mask a personal value for display: phone 138****1234 (first 3 and last 4
 * characters), e-mail w***@example.org (first character of the local part and
 * the domain), national id 1****************8 (first and last character).
 * Short values are masked completely; the result never shows more than those
 * characters.
 */
char *
audit_mask(const char *value, AuditMaskKind kind)
{
	StringInfoData out;
	int			len = strlen(value);

	initStringInfo(&out);
	switch (kind)
	{
		case AUDIT_MASK_PHONE:
			mask_span(&out, value, len, 3, 4, 3);
			break;
		case AUDIT_MASK_EMAIL:
			{
				const char *at = strrchr(value, '@');

				if (at == NULL || at == value)
					mask_span(&out, value, len, 0, 0, 0);
				else
				{
					appendBinaryStringInfo(&out, value, pg_mblen(value));
					appendStringInfoString(&out, "***");
					appendStringInfoString(&out, at);
				}
				break;
			}
		case AUDIT_MASK_ID:
			mask_span(&out, value, len, 1, 1, 6);
			break;
	}
	return out.data;
}
