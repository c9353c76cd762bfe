-- sql/src/90_pg_dump.sql — make pg_dump keep the rows of every medcrm table.
--
-- Runs last so that it covers the tables of every capability: each table of the
-- schema, and the identity sequence behind it, is registered as extension
-- configuration, so pg_dump dumps their contents and pg_restore brings them
-- back after CREATE EXTENSION. Shipped default rows are replaced by their dumped
-- versions through medcrm.replace_shipped_row().

DO $register$
DECLARE
    t regclass;
    seq text;
BEGIN
    FOR t IN
        SELECT c.oid::regclass
          FROM pg_catalog.pg_class AS c
          JOIN pg_catalog.pg_depend AS d
            ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::regclass
           AND d.objid OPERATOR(pg_catalog.=) c.oid
           AND d.deptype OPERATOR(pg_catalog.=) 'e'
         WHERE c.relnamespace OPERATOR(pg_catalog.=) 'medcrm'::regnamespace
           AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p']::"char"[])
           AND NOT c.relispartition
         ORDER BY c.relname
    LOOP
        PERFORM pg_catalog.pg_extension_config_dump(t, '');
        FOR seq IN
            SELECT pg_catalog.pg_get_serial_sequence(t::text, a.attname)
              FROM pg_catalog.pg_attribute AS a
             WHERE a.attrelid OPERATOR(pg_catalog.=) t
               AND a.attidentity OPERATOR(pg_catalog.<>) ''
        LOOP
            PERFORM pg_catalog.pg_extension_config_dump(seq::regclass, '');
        END LOOP;
    END LOOP;
END
$register$;
