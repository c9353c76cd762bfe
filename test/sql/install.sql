-- install.sql — what CREATE EXTENSION leaves behind: roles, shipped SLA
-- defaults, updated_at maintenance, and shipped rows that a restore replaces.
\set VERBOSITY terse

SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'medcrm\_%' ORDER BY rolname;

SELECT extname, extversion, extrelocatable, n.nspname
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE extname = 'medcrm';

SELECT service_level, count(*), min(response_hours), max(resolve_hours), bool_and(shipped)
  FROM medcrm.sla_policy GROUP BY service_level ORDER BY min(response_hours);

-- updated_at follows every UPDATE unless the UPDATE sets it itself.
INSERT INTO medcrm.account (id, kind, name, created_at, updated_at)
VALUES (1, 'clinic', 'Regress Clinic', '2020-01-01', '2020-01-01');
BEGIN;
UPDATE medcrm.account SET city = 'Suzhou' WHERE id = 1;
SELECT updated_at = now() AS touched, created_at = '2020-01-01' AS created_kept
  FROM medcrm.account WHERE id = 1;
COMMIT;
UPDATE medcrm.account SET city = 'Wuxi', updated_at = '2021-06-01' WHERE id = 1;
SELECT updated_at FROM medcrm.account WHERE id = 1;

-- The trigger refuses to be misused.
CREATE TABLE regress_no_updated_at (id int);
CREATE TRIGGER t BEFORE UPDATE ON regress_no_updated_at
    FOR EACH ROW EXECUTE FUNCTION medcrm.set_updated_at();
INSERT INTO regress_no_updated_at VALUES (1);
UPDATE regress_no_updated_at SET id = 2;
CREATE TRIGGER t2 AFTER UPDATE ON medcrm.department
    FOR EACH ROW EXECUTE FUNCTION medcrm.set_updated_at();
INSERT INTO medcrm.department (account_id, name) VALUES (1, 'Lab');
UPDATE medcrm.department SET name = 'Laboratory';
DROP TRIGGER t2 ON medcrm.department;

-- A restored (or re-inserted) row replaces the shipped default with its key;
-- a second insert of a user row with the same key is a plain unique violation.
INSERT INTO medcrm.sla_policy (service_level, priority, response_hours, resolve_hours, shipped)
VALUES ('gold', 1, 3, 20, true);
SELECT service_level, priority, response_hours, resolve_hours, shipped
  FROM medcrm.sla_policy WHERE service_level = 'gold' AND priority = 1;
INSERT INTO medcrm.sla_policy (service_level, priority, response_hours, resolve_hours)
VALUES ('silver', 4, 70, 160);
INSERT INTO medcrm.sla_policy (service_level, priority, response_hours, resolve_hours)
VALUES ('silver', 4, 71, 161);
SELECT count(*) FROM medcrm.sla_policy;
