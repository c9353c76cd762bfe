-- 620_kpi_engine.sql — the machinery behind kpi_series(): the C engine is
-- reachable only through kpi_series() (no role may call medcrm.kpi_engine
-- directly), gives the same rows with and without its parallel workers and
-- refuses to read a table whose row-level security would apply to it; and
-- every check of medcrm.v_data_quality that data_error_rate reads is served
-- by its partial index, never by a scan of the whole table. (The engine's
-- numbers are tested in 600 and 610, and against the former SQL engine in
-- test/scripts/kpi_differential.sh.)
BEGIN;
SELECT plan(7);

SET LOCAL TimeZone = 'Asia/Shanghai';
SET LOCAL session_replication_role = replica;
\ir ../fixtures/kpi_fixture.sql
SET LOCAL session_replication_role = origin;

SELECT ok(NOT has_function_privilege(r, 'medcrm.kpi_engine(date[], timestamptz[], date[], timestamptz[], timestamptz[], timestamptz)', 'EXECUTE'),
          format('%s cannot call medcrm.kpi_engine() directly', r))
  FROM unnest(ARRAY['public', 'medcrm_bi', 'medcrm_reporter']) AS r;

-- The same rows, in the same order, with and without workers.
CREATE TEMP TABLE with_workers ON COMMIT DROP AS
SELECT row_number() OVER () AS n, s::text AS r
  FROM medcrm.kpi_series(ARRAY['2025-12-01', '2026-01-01', '2026-02-01', '2026-03-01', '2026-04-01']::date[]) AS s;
SET LOCAL max_parallel_workers_per_gather = 0;
SELECT results_eq(
    $$SELECT row_number() OVER () AS n, s::text AS r
        FROM medcrm.kpi_series(ARRAY['2025-12-01', '2026-01-01', '2026-02-01', '2026-03-01', '2026-04-01']::date[]) AS s$$,
    $$SELECT n, r FROM with_workers ORDER BY n$$,
    'kpi_series without parallel workers = with them');
RESET max_parallel_workers_per_gather;

-- Row-level security that would apply to the caller: refused, not ignored.
-- (kpi_series() runs as its owner, whom RLS does not restrict; the engine
-- itself is called here by a role that it does restrict.)
CREATE ROLE kpi_engine_rls_test;
GRANT USAGE ON SCHEMA medcrm TO kpi_engine_rls_test;
GRANT SELECT ON ALL TABLES IN SCHEMA medcrm TO kpi_engine_rls_test;
GRANT EXECUTE ON FUNCTION medcrm.kpi_engine(date[], timestamptz[], date[], timestamptz[], timestamptz[], timestamptz)
    TO kpi_engine_rls_test;
SET LOCAL ROLE kpi_engine_rls_test;
SELECT throws_ok(
    $$SELECT * FROM medcrm.kpi_engine(ARRAY['2026-01-01', '2026-02-01']::date[],
                                      ARRAY['2026-01-01', '2026-02-01']::timestamptz[],
                                      ARRAY['2025-02-01']::date[], ARRAY['2025-02-01']::timestamptz[],
                                      ARRAY['2026-01-02']::timestamptz[], now())$$,
    '42501', 'the kpi engine cannot read medcrm.account under row-level security',
    'the engine refuses a table whose row-level security applies to the caller');
RESET ROLE;

-- Every check of v_data_quality reads its partial index (with sequential
-- scans disabled, a check whose index predicate no longer matches the
-- view's condition would still show a Seq Scan of its table).
SET LOCAL enable_seqscan = off;
CREATE TEMP TABLE dq_plan (line text) ON COMMIT DROP;
DO $$
DECLARE
    l text;
BEGIN
    FOR l IN EXECUTE 'EXPLAIN SELECT DISTINCT q.account_id FROM medcrm.v_data_quality AS q WHERE q.account_id IS NOT NULL'
    LOOP
        INSERT INTO dq_plan VALUES (l);
    END LOOP;
END
$$;
SELECT is((SELECT count(*) FROM dq_plan
            WHERE line ~ 'Seq Scan on (account|contact|contract|invoice|installed_device|work_order|visit|opportunity) '),
          0::bigint, 'no check of v_data_quality scans a whole business table');
SELECT is((SELECT count(DISTINCT substring(line FROM '(?:using|on) (\w+_dq_\w+)')) FROM dq_plan WHERE line ~ '_dq_'),
          11::bigint, 'the eleven partial indexes of v_data_quality are all used');
RESET enable_seqscan;

SELECT * FROM finish();
ROLLBACK;
