/*
 * audit.h — the audit trail of medcrm: pure logic shared by the trigger,
 * the sealing step and the verifier (audit_canon.c), and the entry points of
 * the SQL-facing layer (audit.c, audit_access.c).
 */
#ifndef MEDCRM_AUDIT_H
#define MEDCRM_AUDIT_H

#include "lib/stringinfo.h"

#define AUDIT_HASH_LEN 32		/* SHA-256 */

/* Domain-separation prefixes of the two kinds of hashed messages. */
#define AUDIT_ROW_DOMAIN	"medcrm-audit-row-v1"
#define AUDIT_SEAL_DOMAIN	"medcrm-audit-seal-v1"

/* One entry of a seal's row list: audit_log.id and the hash of that row. */
#define AUDIT_SEAL_ENTRY_LEN (8 + AUDIT_HASH_LEN)

typedef enum AuditMaskKind
{
	AUDIT_MASK_PHONE,			/* 13812341234 -> 138****1234 */
	AUDIT_MASK_EMAIL,			/* wang@example.org -> w***@example.org */
	AUDIT_MASK_ID				/* 110101199003074518 -> 1****************8 */
} AuditMaskKind;

/* Canonical, unambiguous encoding of a sequence of fields (audit_canon.c). */
extern void audit_canon_begin(StringInfo buf, const char *domain);
extern void audit_canon_null(StringInfo buf);
extern void audit_canon_bytes(StringInfo buf, const char *data, int len);
extern void audit_canon_text(StringInfo buf, const char *str);
extern void audit_canon_int64(StringInfo buf, int64 value);

extern void audit_sha256(const char *data, size_t len, uint8 *out);
extern void audit_seal_hash(int64 seq, int64 first_id, int64 last_id,
							int64 row_count, const uint8 *prev_hash,
							const char *entries, size_t entries_len,
							uint8 *out);
extern void audit_put_entry(StringInfo buf, int64 id, const uint8 *hash);
extern int64 audit_entry_id(const char *entry);
extern char *audit_hex(const uint8 *data, int len);

extern AuditMaskKind audit_mask_kind_for(const char *name);
extern AuditMaskKind audit_mask_kind_parse(const char *kind);
extern char *audit_mask(const char *value, AuditMaskKind kind);

/*
 * Run a body with the privileges of the owner of medcrm.<relname> and
 * search_path = pg_catalog, pg_temp, as a SECURITY DEFINER function would
 * (audit.c); audit_restore() undoes it.
 */
typedef struct AuditSecurity
{
	Oid			save_userid;
	int			save_sec;
	int			save_nestlevel;
} AuditSecurity;

extern void audit_become_owner(AuditSecurity *s, const char *relname);
extern void audit_restore(AuditSecurity *s);

/* Settings (audit.c). */
extern char *medcrm_audit_reason;
extern int	medcrm_audit_retention_months;

#endif							/* MEDCRM_AUDIT_H */
