-- sql/src/45_data_quality.sql — data-quality findings (medcrm.v_data_quality).
--
-- Interface shared by the KPI engine (data_error_rate), the rules engine
-- (data_quality tasks, one per finding_code + table_name + row_id) and the
-- compliance workbook: one row per open finding, each with a stable code and
-- a fix hint. Merged accounts and their rows never produce findings.
--
-- Kept cheap for the KPI engine (data_error_rate reads it for a million
-- accounts): every check that compares columns of a row has a partial
-- index holding just the offending rows (below), so a branch reads a few
-- index entries instead of its whole table; rows of merged accounts are left
-- out with an anti-join on the merged accounts (few; partial index
-- account_merged_idx of sql/src/10_accounts.sql), not by joining every row
-- to the account table. The index predicates repeat the view's conditions
-- exactly (the planner uses an index only when its predicate is implied);
-- test/pgtap/620_kpi_engine.sql checks that every branch still uses its
-- index.
--
-- Suspected duplicates come from medcrm.duplicate_candidate, which
-- medcrm.scan_duplicates() (sql/src/60_governance.sql) refreshes: a duplicate
-- scan over a million accounts takes a while, reading its stored result keeps
-- this view cheap enough for the KPIs that query it.

CREATE TABLE medcrm.duplicate_candidate (
    account_a      bigint NOT NULL,
    account_b      bigint NOT NULL,
    similarity     real NOT NULL
        CONSTRAINT duplicate_candidate_similarity_check CHECK (similarity BETWEEN 0 AND 1),
    reasons        text[] NOT NULL,
    status         text NOT NULL DEFAULT 'open'
        CONSTRAINT duplicate_candidate_status_check CHECK (status IN ('open', 'dismissed')),
    first_seen_at  timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    dismissed_by   name,
    dismiss_reason text,
    PRIMARY KEY (account_a, account_b),
    CONSTRAINT duplicate_candidate_order_check CHECK (account_a < account_b),
    CONSTRAINT duplicate_candidate_dismissal_check
        CHECK ((status = 'dismissed') = (dismissed_by IS NOT NULL AND btrim(coalesce(dismiss_reason, '')) <> ''))
);
CREATE INDEX duplicate_candidate_account_b_idx ON medcrm.duplicate_candidate (account_b);
COMMENT ON TABLE medcrm.duplicate_candidate IS
    'Pairs of accounts that the last medcrm.scan_duplicates() found to be probable duplicates; open pairs become suspected_duplicate findings. Set status to dismissed (with dismissed_by and dismiss_reason) for two companies that only look alike: later scans keep the pair dismissed.';
COMMENT ON COLUMN medcrm.duplicate_candidate.account_a IS 'The older account of the pair (lower id).';
COMMENT ON COLUMN medcrm.duplicate_candidate.account_b IS 'The newer account of the pair (higher id), usually the one to merge away.';
COMMENT ON COLUMN medcrm.duplicate_candidate.similarity IS 'Trigram similarity (0-1) of the two normalised name keys.';
COMMENT ON COLUMN medcrm.duplicate_candidate.reasons IS 'Evidence: same_name, similar_name, same_city, tax_id, phone, email.';
COMMENT ON COLUMN medcrm.duplicate_candidate.status IS 'open (a finding) or dismissed (checked: different companies).';
COMMENT ON COLUMN medcrm.duplicate_candidate.first_seen_at IS 'When a scan first found the pair.';
COMMENT ON COLUMN medcrm.duplicate_candidate.last_seen_at IS 'When a scan last found the pair.';
COMMENT ON COLUMN medcrm.duplicate_candidate.dismissed_by IS 'Who dismissed the pair.';
COMMENT ON COLUMN medcrm.duplicate_candidate.dismiss_reason IS 'Why the pair is not a duplicate.';
GRANT SELECT, INSERT, UPDATE, DELETE ON medcrm.duplicate_candidate TO medcrm_admin;

-- Partial indexes on the offending rows of each check of v_data_quality
-- (see above): tiny, and free for rows without a problem.
CREATE INDEX account_dq_hospital_without_grade_idx ON medcrm.account (id)
    WHERE kind OPERATOR(pg_catalog.=) 'hospital' AND hospital_grade IS NULL AND merged_into IS NULL;
CREATE INDEX installed_device_dq_without_warranty_end_idx ON medcrm.installed_device (account_id)
    WHERE warranty_ends IS NULL AND status OPERATOR(pg_catalog.<>) 'retired';
CREATE INDEX contact_dq_phone_without_consent_idx ON medcrm.contact (account_id)
    WHERE phone IS NOT NULL AND consent_at IS NULL;
CREATE INDEX contract_dq_ends_before_starts_idx ON medcrm.contract (account_id)
    WHERE ends_on OPERATOR(pg_catalog.<) starts_on;
CREATE INDEX invoice_dq_overpaid_idx ON medcrm.invoice (account_id)
    WHERE paid_amount OPERATOR(pg_catalog.>) amount;
CREATE INDEX invoice_dq_due_before_issue_idx ON medcrm.invoice (account_id)
    WHERE due_on OPERATOR(pg_catalog.<) issued_on;
CREATE INDEX installed_device_dq_warranty_before_install_idx ON medcrm.installed_device (account_id)
    WHERE warranty_ends OPERATOR(pg_catalog.<) installed_on;
CREATE INDEX work_order_dq_resolved_before_reported_idx ON medcrm.work_order (account_id)
    WHERE resolved_at OPERATOR(pg_catalog.<) reported_at;
CREATE INDEX visit_dq_ends_before_start_idx ON medcrm.visit (account_id)
    WHERE ended_at OPERATOR(pg_catalog.<) started_at;
CREATE INDEX opportunity_dq_closed_before_opened_idx ON medcrm.opportunity (account_id)
    WHERE closed_on OPERATOR(pg_catalog.<) opened_on;
CREATE INDEX certificate_dq_valid_to_before_from_idx ON medcrm.certificate (account_id)
    WHERE valid_to OPERATOR(pg_catalog.<) valid_from;

CREATE VIEW medcrm.v_data_quality WITH (security_barrier) AS
-- missing business fields
SELECT 'hospital_without_grade'::text AS finding_code, 'warning'::text AS severity,
       'account'::text AS table_name, a.id AS row_id, a.id AS account_id,
       pg_catalog.format('Hospital %s "%s" has no hospital grade.', a.id, a.name) AS detail,
       'Set account.hospital_grade (3A, 3B, 3C, 2A, 2B, 2C or 1); tiering and KPIs by grade need it.'::text AS fix_hint
  FROM medcrm.account AS a
 WHERE a.kind OPERATOR(pg_catalog.=) 'hospital' AND a.hospital_grade IS NULL AND a.merged_into IS NULL
UNION ALL
SELECT 'contact_phone_without_consent', 'warning', 'contact', c.id, c.account_id,
       pg_catalog.format('Contact %s has a phone number but no recorded consent (PIPL).', c.id),
       'Record consent_at when the person agreed, or remove the phone number.'
  FROM medcrm.contact AS c
 WHERE c.phone IS NOT NULL AND c.consent_at IS NULL
   AND NOT EXISTS (SELECT FROM medcrm.account AS m
                    WHERE m.id OPERATOR(pg_catalog.=) c.account_id AND m.merged_into IS NOT NULL)
UNION ALL
SELECT 'device_without_warranty_end', 'warning', 'installed_device', d.id, d.account_id,
       pg_catalog.format('Installed device %s (serial %s) has no warranty end date.', d.id, d.serial_no),
       'Set installed_device.warranty_ends from the sales contract; warranty reminders and service coverage need it.'
  FROM medcrm.installed_device AS d
 WHERE d.warranty_ends IS NULL AND d.status OPERATOR(pg_catalog.<>) 'retired'
   AND NOT EXISTS (SELECT FROM medcrm.account AS m
                    WHERE m.id OPERATOR(pg_catalog.=) d.account_id AND m.merged_into IS NOT NULL)
UNION ALL
-- impossible values
SELECT 'contract_ends_before_starts', 'error', 'contract', k.id, k.account_id,
       pg_catalog.format('Contract %s ends on %s, before it starts on %s.', k.contract_no, k.ends_on, k.starts_on),
       'Correct contract.starts_on or contract.ends_on; renewal reminders count back from ends_on.'
  FROM medcrm.contract AS k
 WHERE k.ends_on OPERATOR(pg_catalog.<) k.starts_on
   AND NOT EXISTS (SELECT FROM medcrm.account AS m
                    WHERE m.id OPERATOR(pg_catalog.=) k.account_id AND m.merged_into IS NOT NULL)
UNION ALL
SELECT 'invoice_overpaid', 'error', 'invoice', i.id, i.account_id,
       pg_catalog.format('Invoice %s is paid %s but invoiced only %s.', i.id, i.paid_amount, i.amount),
       'Correct invoice.paid_amount (record an overpayment as a credit note instead); the collection rate uses it.'
  FROM medcrm.invoice AS i
 WHERE i.paid_amount OPERATOR(pg_catalog.>) i.amount
   AND NOT EXISTS (SELECT FROM medcrm.account AS m
                    WHERE m.id OPERATOR(pg_catalog.=) i.account_id AND m.merged_into IS NOT NULL)
UNION ALL
SELECT 'invoice_due_before_issue', 'error', 'invoice', i.id, i.account_id,
       pg_catalog.format('Invoice %s is due on %s, before it was issued on %s.', i.id, i.due_on, i.issued_on),
       'Correct invoice.issued_on or invoice.due_on.'
  FROM medcrm.invoice AS i
 WHERE i.due_on OPERATOR(pg_catalog.<) i.issued_on
   AND NOT EXISTS (SELECT FROM medcrm.account AS m
                    WHERE m.id OPERATOR(pg_catalog.=) i.account_id AND m.merged_into IS NOT NULL)
UNION ALL
SELECT 'device_warranty_ends_before_install', 'error', 'installed_device', d.id, d.account_id,
       pg_catalog.format('Installed device %s: warranty ends on %s, before installation on %s.', d.id, d.warranty_ends, d.installed_on),
       'Correct installed_device.installed_on or installed_device.warranty_ends.'
  FROM medcrm.installed_device AS d
 WHERE d.warranty_ends OPERATOR(pg_catalog.<) d.installed_on
   AND NOT EXISTS (SELECT FROM medcrm.account AS m
                    WHERE m.id OPERATOR(pg_catalog.=) d.account_id AND m.merged_into IS NOT NULL)
UNION ALL
SELECT 'work_order_resolved_before_reported', 'error', 'work_order', w.id, w.account_id,
       pg_catalog.format('Work order %s is resolved at %s, before it was reported at %s.', w.id, w.resolved_at, w.reported_at),
       'Correct work_order.reported_at or work_order.resolved_at; resolution-time KPIs use them.'
  FROM medcrm.work_order AS w
 WHERE w.resolved_at OPERATOR(pg_catalog.<) w.reported_at
   AND NOT EXISTS (SELECT FROM medcrm.account AS m
                    WHERE m.id OPERATOR(pg_catalog.=) w.account_id AND m.merged_into IS NOT NULL)
UNION ALL
SELECT 'visit_ends_before_start', 'error', 'visit', v.id, v.account_id,
       pg_catalog.format('Visit %s ends at %s, before it starts at %s.', v.id, v.ended_at, v.started_at),
       'Correct visit.started_at or visit.ended_at.'
  FROM medcrm.visit AS v
 WHERE v.ended_at OPERATOR(pg_catalog.<) v.started_at
   AND NOT EXISTS (SELECT FROM medcrm.account AS m
                    WHERE m.id OPERATOR(pg_catalog.=) v.account_id AND m.merged_into IS NOT NULL)
UNION ALL
SELECT 'opportunity_closed_before_opened', 'error', 'opportunity', o.id, o.account_id,
       pg_catalog.format('Opportunity %s closed on %s, before it was opened on %s.', o.id, o.closed_on, o.opened_on),
       'Correct opportunity.opened_on or opportunity.closed_on; the sales-cycle KPI uses them.'
  FROM medcrm.opportunity AS o
 WHERE o.closed_on OPERATOR(pg_catalog.<) o.opened_on
   AND NOT EXISTS (SELECT FROM medcrm.account AS m
                    WHERE m.id OPERATOR(pg_catalog.=) o.account_id AND m.merged_into IS NOT NULL)
UNION ALL
SELECT 'certificate_valid_to_before_from', 'error', 'certificate', ce.id, ce.account_id,
       pg_catalog.format('Certificate %s is valid to %s, before it is valid from %s.', ce.number, ce.valid_to, ce.valid_from),
       'Correct certificate.valid_from or certificate.valid_to.'
  FROM medcrm.certificate AS ce
 WHERE ce.valid_to OPERATOR(pg_catalog.<) ce.valid_from
   AND NOT EXISTS (SELECT FROM medcrm.account AS m
                    WHERE m.id OPERATOR(pg_catalog.=) ce.account_id AND m.merged_into IS NOT NULL)
UNION ALL
-- suspected duplicates (stored by medcrm.scan_duplicates); one finding per newer account
SELECT 'suspected_duplicate', 'warning', 'account', b.id, b.id,
       pg_catalog.format('Account %s "%s" looks like a duplicate of %s.', b.id, b.name,
              pg_catalog.string_agg(pg_catalog.format('account %s "%s" (%s; similarity %s)', a.id, a.name,
                                    pg_catalog.array_to_string(dc.reasons, ', '),
                                    pg_catalog.round(dc.similarity::numeric, 2)), '; ' ORDER BY a.id)),
       'Merge it into the survivor with medcrm.merge_accounts(keep_id, dup_id, reason), or set the pair''s status to dismissed in medcrm.duplicate_candidate if they are different companies.'
  FROM medcrm.duplicate_candidate AS dc
  JOIN medcrm.account AS a ON a.id OPERATOR(pg_catalog.=) dc.account_a
  JOIN medcrm.account AS b ON b.id OPERATOR(pg_catalog.=) dc.account_b
 WHERE dc.status OPERATOR(pg_catalog.=) 'open' AND a.merged_into IS NULL AND b.merged_into IS NULL
 GROUP BY b.id, b.name
UNION ALL
-- expired licence or authorization of an active distributor or agent, not renewed
SELECT 'expired_certificate_active_distributor', 'error', 'certificate', ce.id, ce.account_id,
       pg_catalog.format('Active %s %s "%s" holds %s %s that expired on %s and has no valid successor.',
              a.kind, a.id, a.name, pg_catalog.replace(ce.kind, '_', ' '), ce.number, ce.valid_to),
       'Record the renewed certificate (a new certificate row of the same kind), or set the account''s lifecycle_stage to churned if it no longer distributes.'
  FROM medcrm.certificate AS ce
  JOIN medcrm.account AS a ON a.id OPERATOR(pg_catalog.=) ce.account_id
 WHERE ce.kind OPERATOR(pg_catalog.=) ANY (ARRAY['distributor_license', 'distributor_authorization'])
   AND ce.valid_to OPERATOR(pg_catalog.<) CURRENT_DATE
   AND a.kind OPERATOR(pg_catalog.=) ANY (ARRAY['distributor', 'agent'])
   AND a.lifecycle_stage OPERATOR(pg_catalog.=) ANY (ARRAY['active', 'at_risk'])
   AND a.merged_into IS NULL
   AND NOT EXISTS (SELECT FROM medcrm.certificate AS n
                    WHERE n.account_id OPERATOR(pg_catalog.=) ce.account_id
                      AND n.kind OPERATOR(pg_catalog.=) ce.kind
                      AND n.valid_to OPERATOR(pg_catalog.>=) CURRENT_DATE);
COMMENT ON VIEW medcrm.v_data_quality IS
    'Open data-quality findings: one row per finding (finding_code, table_name, row_id), with a stable code and a fix hint. Codes: hospital_without_grade, contact_phone_without_consent, device_without_warranty_end (warnings: missing fields); contract_ends_before_starts, invoice_overpaid, invoice_due_before_issue, device_warranty_ends_before_install, work_order_resolved_before_reported, visit_ends_before_start, opportunity_closed_before_opened, certificate_valid_to_before_from (errors: impossible values); suspected_duplicate (warning, from the last medcrm.scan_duplicates()); expired_certificate_active_distributor (error). Merged accounts produce no findings.';
COMMENT ON COLUMN medcrm.v_data_quality.finding_code IS 'Stable code of the check, e.g. hospital_without_grade.';
COMMENT ON COLUMN medcrm.v_data_quality.severity IS 'error (impossible value) or warning (missing or suspicious value).';
COMMENT ON COLUMN medcrm.v_data_quality.table_name IS 'Table of the offending row (unqualified name in schema medcrm, e.g. account).';
COMMENT ON COLUMN medcrm.v_data_quality.row_id IS 'id of the offending row.';
COMMENT ON COLUMN medcrm.v_data_quality.account_id IS 'Account the finding belongs to (NULL for product-level findings).';
COMMENT ON COLUMN medcrm.v_data_quality.detail IS 'What is wrong, in a sentence.';
COMMENT ON COLUMN medcrm.v_data_quality.fix_hint IS 'How to fix it, in a sentence.';
GRANT SELECT ON medcrm.v_data_quality TO medcrm_admin, medcrm_bi, medcrm_reporter, medcrm_auditor;
