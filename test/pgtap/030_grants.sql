-- 030_grants.sql — least privilege on the base tables: what each group may not do.
BEGIN;
SELECT plan(9);

SELECT ok(NOT has_column_privilege('medcrm_sales', 'medcrm.account', c, 'UPDATE'),
          'medcrm_sales may not update account.' || c)
  FROM unnest(ARRAY['tier', 'tier_score', 'tier_model_id', 'tiered_at', 'tier_override', 'merged_into']) AS c;
SELECT ok(has_column_privilege('medcrm_sales', 'medcrm.account', 'lifecycle_stage', 'UPDATE'),
          'medcrm_sales may update account.lifecycle_stage');
SELECT ok(NOT has_column_privilege('medcrm_sales', 'medcrm.contact', 'phone', 'SELECT')
          AND NOT has_column_privilege('medcrm_sales', 'medcrm.contact', 'national_id', 'SELECT'),
          'medcrm_sales may not read contact phone or national id');
SELECT ok(NOT has_table_privilege('medcrm_bi', 'medcrm.account', 'SELECT'),
          'medcrm_bi may not read the base tables');

SELECT * FROM finish();
ROLLBACK;
