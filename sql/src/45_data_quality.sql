-- sql/src/45_data_quality.sql — data-quality findings (medcrm.v_data_quality).
--
-- Interface shared by the KPI engine (data_error_rate), the rules engine
-- (data_quality tasks) and the compliance workbook: one row per open finding.
-- The checks themselves belong to the data-governance capability.

CREATE VIEW medcrm.v_data_quality WITH (security_barrier) AS
SELECT NULL::text        AS finding_code,
       NULL::text        AS severity,
       NULL::text        AS table_name,
       NULL::bigint      AS row_id,
       NULL::bigint      AS account_id,
       NULL::text        AS detail,
       NULL::text        AS fix_hint
 WHERE false;
COMMENT ON VIEW medcrm.v_data_quality IS 'Open data-quality findings: one row per finding, with a stable code and a fix hint.';
COMMENT ON COLUMN medcrm.v_data_quality.finding_code IS 'Stable code of the check, e.g. hospital_without_grade.';
COMMENT ON COLUMN medcrm.v_data_quality.severity IS 'error (impossible value) or warning (missing or suspicious value).';
COMMENT ON COLUMN medcrm.v_data_quality.table_name IS 'Table of the offending row.';
COMMENT ON COLUMN medcrm.v_data_quality.row_id IS 'id of the offending row.';
COMMENT ON COLUMN medcrm.v_data_quality.account_id IS 'Account the finding belongs to (NULL for product-level findings).';
COMMENT ON COLUMN medcrm.v_data_quality.detail IS 'What is wrong, in a sentence.';
COMMENT ON COLUMN medcrm.v_data_quality.fix_hint IS 'How to fix it, in a sentence.';
