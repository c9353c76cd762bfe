-- sql/src/60_governance.sql — data governance: normalised name keys and the
-- duplicate scan, reversible account merges, idempotent source-key sync, and
-- GS1 UDI parsing with the installed-device agreement check.
--
-- pg_trgm is a requirement of medcrm (medcrm.control) and lives in whatever
-- schema was current at CREATE EXTENSION time; every reference to it below is
-- qualified with that schema, looked up from pg_extension at install time.

------------------------------------------------------------------------------
-- Name keys and the duplicate scan
------------------------------------------------------------------------------

CREATE FUNCTION medcrm.account_name_key(name text) RETURNS text
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'medcrm_account_name_key';
COMMENT ON FUNCTION medcrm.account_name_key(text) IS
    'Normalised name key used to find duplicates: full-width forms folded to ASCII, lower case, punctuation and blanks removed, legal-form and kind suffixes (有限公司, 医院, Co., Ltd., Hospital, ...) cut. Locale-independent and IMMUTABLE.';

DO $trgm$
DECLARE
    trgm text;
BEGIN
    SELECT n.nspname INTO trgm
      FROM pg_catalog.pg_extension AS e
      JOIN pg_catalog.pg_namespace AS n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
     WHERE e.extname OPERATOR(pg_catalog.=) 'pg_trgm';
    IF trgm IS NULL THEN
        RAISE EXCEPTION 'medcrm needs the pg_trgm extension'
            USING ERRCODE = 'undefined_object',
                  HINT = 'Install it with CREATE EXTENSION medcrm CASCADE.';
    END IF;

    -- Trigram index on the name key: similar-name lookups of single names.
    EXECUTE pg_catalog.format(
        'CREATE INDEX account_name_key_trgm_idx ON medcrm.account'
        ' USING gin (medcrm.account_name_key(name) %I.gin_trgm_ops) WHERE merged_into IS NULL', trgm);

    EXECUTE pg_catalog.format($fn$
CREATE FUNCTION medcrm.find_duplicate_accounts(min_similarity real DEFAULT 0.6)
    RETURNS TABLE (account_a bigint, account_b bigint, similarity real, reasons text[])
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    SET jit = off
AS $body$
WITH acc AS MATERIALIZED (
    SELECT a.id,
           medcrm.account_name_key(a.name) AS k,
           nullif(lower(btrim(a.city)), '') AS city,
           nullif(upper(regexp_replace(a.tax_id, '[^0-9A-Za-z]', '', 'g')), '') AS tax
      FROM medcrm.account AS a
     WHERE a.merged_into IS NULL
),
-- 1. the same name key in the same city (or a city left empty)
key_group AS (
    SELECT k, city, array_agg(id ORDER BY id) AS ids
      FROM acc
     GROUP BY k, city
    HAVING count(*) > 1
),
name_pair AS (
    SELECT g.ids[i] AS a, g.ids[j] AS b, 'same_name'::text AS reason
      FROM key_group AS g,
           generate_subscripts(g.ids, 1) AS i,
           generate_subscripts(g.ids, 1) AS j
     WHERE i < j AND (cardinality(g.ids) <= 20 OR i = 1)
    UNION ALL
    SELECT x.id, y.id, 'same_name'
      FROM acc AS x JOIN acc AS y ON y.k = x.k AND y.id <> x.id
     WHERE x.city IS NULL AND y.city IS NOT NULL
),
-- 2. similar names in the same city: sorted neighbourhood on the key and on
--    the reversed key (differences at the end and at the start), 3 neighbours
neighbour AS (
    SELECT id, k,
           lead(id, 1) OVER w AS b1, lead(k, 1) OVER w AS k1,
           lead(id, 2) OVER w AS b2, lead(k, 2) OVER w AS k2,
           lead(id, 3) OVER w AS b3, lead(k, 3) OVER w AS k3
      FROM acc WHERE city IS NOT NULL
    WINDOW w AS (PARTITION BY city ORDER BY k, id)
    UNION ALL
    SELECT id, k,
           lead(id, 1) OVER w, lead(k, 1) OVER w,
           lead(id, 2) OVER w, lead(k, 2) OVER w,
           lead(id, 3) OVER w, lead(k, 3) OVER w
      FROM acc WHERE city IS NOT NULL
    WINDOW w AS (PARTITION BY city ORDER BY reverse(k), id)
),
similar_pair AS (
    SELECT n.id AS a, v.b, 'similar_name'::text AS reason
      FROM neighbour AS n,
           LATERAL (VALUES (n.b1, n.k1), (n.b2, n.k2), (n.b3, n.k3)) AS v(b, kb)
     WHERE v.b IS NOT NULL AND v.kb <> n.k
       AND %1$I.similarity(n.k, v.kb) >= min_similarity
       -- "第一医院" and "第二医院" are different hospitals: numbers must agree
       AND regexp_replace(n.k, '[^0-9〇零一二三四五六七八九十百千]', '', 'g')
         = regexp_replace(v.kb, '[^0-9〇零一二三四五六七八九十百千]', '', 'g')
),
-- 3. the same tax id
tax_group AS (
    SELECT array_agg(id ORDER BY id) AS ids
      FROM acc WHERE tax IS NOT NULL
     GROUP BY tax HAVING count(*) > 1
),
tax_pair AS (
    SELECT g.ids[i] AS a, g.ids[j] AS b, 'tax_id'::text AS reason
      FROM tax_group AS g, generate_subscripts(g.ids, 1) AS i, generate_subscripts(g.ids, 1) AS j
     WHERE i < j AND (cardinality(g.ids) <= 20 OR i = 1)
),
-- 4. a contact phone or e-mail shared by a few accounts (a number that
--    dozens of accounts share is a switchboard, not evidence)
contact_value AS (
    SELECT c.account_id, 'phone'::text AS reason,
           right(regexp_replace(c.phone, '[^0-9]', '', 'g'), 11) AS v
      FROM medcrm.contact AS c
     WHERE length(regexp_replace(c.phone, '[^0-9]', '', 'g')) >= 7
    UNION
    SELECT c.account_id, 'email', lower(btrim(c.email))
      FROM medcrm.contact AS c
     WHERE c.email LIKE '%%_@_%%'
),
contact_group AS (
    SELECT cv.reason, array_agg(DISTINCT cv.account_id) AS ids
      FROM contact_value AS cv JOIN acc ON acc.id = cv.account_id
     GROUP BY cv.reason, cv.v
    HAVING count(DISTINCT cv.account_id) BETWEEN 2 AND 5
),
contact_pair AS (
    SELECT g.ids[i] AS a, g.ids[j] AS b, g.reason
      FROM contact_group AS g, generate_subscripts(g.ids, 1) AS i, generate_subscripts(g.ids, 1) AS j
     WHERE i < j
),
pair AS (
    SELECT least(a, b) AS a, greatest(a, b) AS b, array_agg(DISTINCT reason ORDER BY reason) AS reasons
      FROM (SELECT * FROM name_pair UNION ALL SELECT * FROM similar_pair
            UNION ALL SELECT * FROM tax_pair UNION ALL SELECT * FROM contact_pair) AS p
     GROUP BY 1, 2
),
-- keys looked up by primary key: a join of the materialised acc with itself
-- has no statistics and can go quadratic
scored AS (
    SELECT p.a, p.b, %1$I.similarity(x.k, y.k) AS sim, char_length(x.k) AS len_a, char_length(y.k) AS len_b,
           CASE WHEN x.city = y.city THEN p.reasons || 'same_city'::text ELSE p.reasons END AS reasons
      FROM pair AS p
      CROSS JOIN LATERAL (SELECT medcrm.account_name_key(a.name) AS k, nullif(lower(btrim(a.city)), '') AS city
                            FROM medcrm.account AS a WHERE a.id = p.a OFFSET 0) AS x
      CROSS JOIN LATERAL (SELECT medcrm.account_name_key(a.name) AS k, nullif(lower(btrim(a.city)), '') AS city
                            FROM medcrm.account AS a WHERE a.id = p.b OFFSET 0) AS y
)
SELECT s.a, s.b, s.sim, s.reasons
  FROM scored AS s
 WHERE 'same_name' = ANY (s.reasons)
    OR 'tax_id' = ANY (s.reasons)
    -- similar names alone must be very similar and differ in length by one
    -- character at most (a typo): one different or repeated word in a short
    -- Chinese name is as often another company as a typo
    OR ('similar_name' = ANY (s.reasons) AND s.sim >= (1 + min_similarity) / 2
        AND abs(s.len_a - s.len_b) <= 1)
    OR (('phone' = ANY (s.reasons) OR 'email' = ANY (s.reasons))
        AND (s.sim >= min_similarity / 2 OR 'similar_name' = ANY (s.reasons)))
 ORDER BY s.a, s.b
$body$
$fn$, trgm);

    EXECUTE pg_catalog.format($fn$
CREATE FUNCTION medcrm.find_similar_accounts(name text, city text DEFAULT NULL, min_similarity real DEFAULT 0.6)
    RETURNS TABLE (account_id bigint, account_name text, account_city text, similarity real)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $body$
DECLARE
    key text := medcrm.account_name_key(name);
BEGIN
    IF min_similarity IS NULL OR min_similarity <= 0 OR min_similarity > 1 THEN
        RAISE EXCEPTION 'min_similarity must be in (0, 1]'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass a similarity such as 0.6.';
    END IF;
    -- the index operator %% uses pg_trgm.similarity_threshold
    PERFORM set_config('pg_trgm.similarity_threshold', min_similarity::text, true);
    RETURN QUERY
    SELECT a.id, a.name, a.city, %1$I.similarity(medcrm.account_name_key(a.name), key)
      FROM medcrm.account AS a
     WHERE medcrm.account_name_key(a.name) OPERATOR(%1$I.%%) key
       AND a.merged_into IS NULL
       AND (find_similar_accounts.city IS NULL OR a.city IS NULL
            OR lower(btrim(a.city)) = lower(btrim(find_similar_accounts.city)))
     ORDER BY 4 DESC, a.id;
END
$body$
$fn$, trgm);
END
$trgm$;

COMMENT ON FUNCTION medcrm.find_duplicate_accounts(real) IS
    'Bulk duplicate scan over all unmerged accounts. A pair is returned when the accounts share a name key (medcrm.account_name_key) in the same city; share a tax id; have very similar keys in the same city (trigram similarity >= (1 + min_similarity) / 2, same numbers, lengths differing by one character at most); or share a contact phone or e-mail and have similar keys (>= min_similarity in the same city, or >= min_similarity / 2). similarity is the trigram similarity of the keys; reasons lists the evidence (same_name, similar_name, tax_id, phone, email, same_city).';
COMMENT ON FUNCTION medcrm.find_similar_accounts(text, text, real) IS
    'Accounts whose name key is similar to that of name (trigram index), optionally in one city: the check before creating an account.';
REVOKE ALL ON FUNCTION medcrm.find_duplicate_accounts(real) FROM PUBLIC;
REVOKE ALL ON FUNCTION medcrm.find_similar_accounts(text, text, real) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION medcrm.find_duplicate_accounts(real) TO medcrm_admin;
-- sales reps check for an existing account before creating one (RLS applies)
GRANT EXECUTE ON FUNCTION medcrm.find_similar_accounts(text, text, real) TO medcrm_admin, medcrm_sales;

CREATE FUNCTION medcrm.scan_duplicates(min_similarity real DEFAULT 0.6) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n bigint;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS medcrm_scan_result
        (account_a bigint, account_b bigint, similarity real, reasons text[]) ON COMMIT DROP;
    TRUNCATE medcrm_scan_result;
    INSERT INTO medcrm_scan_result SELECT * FROM medcrm.find_duplicate_accounts(min_similarity);

    -- open pairs the scan no longer finds are gone; dismissed pairs stay dismissed
    DELETE FROM medcrm.duplicate_candidate AS dc
     WHERE dc.status = 'open'
       AND NOT EXISTS (SELECT FROM medcrm_scan_result AS r
                        WHERE r.account_a = dc.account_a AND r.account_b = dc.account_b);
    INSERT INTO medcrm.duplicate_candidate AS dc (account_a, account_b, similarity, reasons)
    SELECT r.account_a, r.account_b, r.similarity, r.reasons FROM medcrm_scan_result AS r
    ON CONFLICT (account_a, account_b) DO UPDATE
       SET similarity = excluded.similarity, reasons = excluded.reasons, last_seen_at = now()
     WHERE (dc.similarity, dc.reasons) IS DISTINCT FROM (excluded.similarity, excluded.reasons)
        OR dc.last_seen_at < now();
    SELECT count(*) INTO n FROM medcrm.duplicate_candidate WHERE status = 'open';
    DROP TABLE medcrm_scan_result;
    RETURN n;
END
$fn$;
COMMENT ON FUNCTION medcrm.scan_duplicates(real) IS
    'Runs medcrm.find_duplicate_accounts() and stores its pairs in medcrm.duplicate_candidate (the source of suspected_duplicate findings); returns the number of open pairs.';
REVOKE ALL ON FUNCTION medcrm.scan_duplicates(real) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION medcrm.scan_duplicates(real) TO medcrm_admin;

------------------------------------------------------------------------------
-- Reversible merges
------------------------------------------------------------------------------

CREATE TABLE medcrm.account_merge (
    id             bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    keep_id        bigint NOT NULL REFERENCES medcrm.account (id),
    dup_id         bigint NOT NULL REFERENCES medcrm.account (id),
    reason         text NOT NULL CONSTRAINT account_merge_reason_check CHECK (btrim(reason) <> ''),
    merged_at      timestamptz NOT NULL DEFAULT now(),
    merged_by      name NOT NULL DEFAULT session_user,
    dup_updated_at timestamptz NOT NULL,
    rows_moved     bigint NOT NULL DEFAULT 0,
    unmerged_at    timestamptz,
    unmerged_by    name,
    unmerge_reason text,
    CONSTRAINT account_merge_unmerged_check CHECK ((unmerged_at IS NULL) = (unmerged_by IS NULL))
);
CREATE INDEX account_merge_keep_id_idx ON medcrm.account_merge (keep_id);
CREATE INDEX account_merge_dup_id_idx ON medcrm.account_merge (dup_id);
COMMENT ON TABLE medcrm.account_merge IS
    'One merge of a duplicate account into a survivor (medcrm.merge_accounts), undone by medcrm.unmerge_accounts.';
COMMENT ON COLUMN medcrm.account_merge.id IS 'Merge id, returned by merge_accounts.';
COMMENT ON COLUMN medcrm.account_merge.keep_id IS 'The survivor account.';
COMMENT ON COLUMN medcrm.account_merge.dup_id IS 'The duplicate account, merged_into keep_id.';
COMMENT ON COLUMN medcrm.account_merge.reason IS 'Why the accounts were merged (also the audit reason).';
COMMENT ON COLUMN medcrm.account_merge.merged_at IS 'When the merge happened.';
COMMENT ON COLUMN medcrm.account_merge.merged_by IS 'Login role that merged.';
COMMENT ON COLUMN medcrm.account_merge.dup_updated_at IS 'updated_at of the duplicate before the merge (restored by unmerge).';
COMMENT ON COLUMN medcrm.account_merge.rows_moved IS 'Child rows that were moved to the survivor.';
COMMENT ON COLUMN medcrm.account_merge.unmerged_at IS 'When the merge was undone; NULL while in effect.';
COMMENT ON COLUMN medcrm.account_merge.unmerged_by IS 'Login role that undid the merge.';
COMMENT ON COLUMN medcrm.account_merge.unmerge_reason IS 'Why the merge was undone.';

CREATE TABLE medcrm.account_merge_row (
    merge_id       bigint NOT NULL REFERENCES medcrm.account_merge (id),
    table_name     text NOT NULL,
    column_name    name NOT NULL,
    row_key        jsonb NOT NULL,
    old_value      bigint NOT NULL,
    new_value      bigint,
    old_updated_at timestamptz,
    PRIMARY KEY (merge_id, table_name, column_name, row_key)
);
COMMENT ON TABLE medcrm.account_merge_row IS
    'Every row a merge changed: which column of which row pointed at the duplicate, so that unmerge can put it back exactly.';
COMMENT ON COLUMN medcrm.account_merge_row.merge_id IS 'The merge.';
COMMENT ON COLUMN medcrm.account_merge_row.table_name IS 'Schema-qualified table of the moved row.';
COMMENT ON COLUMN medcrm.account_merge_row.column_name IS 'The column that referenced the duplicate account.';
COMMENT ON COLUMN medcrm.account_merge_row.row_key IS 'Primary key of the moved row (JSON object of its key columns).';
COMMENT ON COLUMN medcrm.account_merge_row.old_value IS 'The column''s value before the merge (the duplicate''s id).';
COMMENT ON COLUMN medcrm.account_merge_row.new_value IS 'The column''s value after the merge: the survivor''s id, or NULL where the survivor would have referenced itself.';
COMMENT ON COLUMN medcrm.account_merge_row.old_updated_at IS 'updated_at of the row before the merge (restored by unmerge); NULL when the table has none.';

GRANT SELECT, INSERT, UPDATE ON medcrm.account_merge, medcrm.account_merge_row TO medcrm_admin;
GRANT SELECT ON medcrm.account_merge, medcrm.account_merge_row TO medcrm_auditor;

-- The single-column foreign keys that reference medcrm.account(id), found
-- from the catalog so that tables added later are covered too. The merge log
-- itself is not moved.
CREATE FUNCTION medcrm.account_references()
    RETURNS TABLE (table_name regclass, column_name name, key_columns name[], has_updated_at boolean)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT con.conrelid::regclass, att.attname,
           (SELECT array_agg(ka.attname ORDER BY k.ord)
              FROM pg_index AS i,
                   unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord),
                   pg_attribute AS ka
             WHERE i.indrelid = con.conrelid AND i.indisprimary
               AND ka.attrelid = con.conrelid AND ka.attnum = k.attnum),
           EXISTS (SELECT FROM pg_attribute AS u
                    WHERE u.attrelid = con.conrelid AND u.attname = 'updated_at'
                      AND u.atttypid = 'timestamptz'::regtype AND NOT u.attisdropped)
      FROM pg_constraint AS con
      JOIN pg_attribute AS att ON att.attrelid = con.conrelid AND att.attnum = con.conkey[1]
     WHERE con.contype = 'f'
       AND con.confrelid = 'medcrm.account'::regclass
       AND cardinality(con.conkey) = 1
       AND con.conrelid <> ALL (ARRAY['medcrm.account_merge'::regclass, 'medcrm.account_merge_row'::regclass])
     ORDER BY 1::text, 2
$fn$;
COMMENT ON FUNCTION medcrm.account_references() IS
    'The columns that reference medcrm.account(id) through a foreign key, with their table''s primary key: what merge_accounts moves.';
REVOKE ALL ON FUNCTION medcrm.account_references() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION medcrm.account_references() TO medcrm_admin, medcrm_auditor;

CREATE FUNCTION medcrm.merge_accounts(keep_id bigint, dup_id bigint, reason text) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    keep_row medcrm.account;
    dup_row  medcrm.account;
    mid      bigint;
    ref      record;
    keyexpr  text;
    moved    bigint;
    total    bigint := 0;
    prior    bigint;
BEGIN
    IF keep_id IS NULL OR dup_id IS NULL THEN
        RAISE EXCEPTION 'keep_id and dup_id must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass the survivor''s id and the duplicate''s id.';
    END IF;
    IF reason IS NULL OR btrim(reason) = '' THEN
        RAISE EXCEPTION 'a merge needs a reason'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Merges are audited: the reason is recorded with every changed row.',
                  HINT = 'Pass a reason such as ''same tax id, confirmed by finance''.';
    END IF;
    IF keep_id = dup_id THEN
        RAISE EXCEPTION 'cannot merge account % into itself', keep_id
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass two different accounts: the survivor first, then the duplicate.';
    END IF;

    -- lock both (in id order, so that concurrent merges cannot deadlock);
    -- FOR UPDATE also holds off new child rows of the duplicate until commit
    PERFORM FROM medcrm.account AS a
      WHERE a.id IN (keep_id, dup_id) ORDER BY a.id FOR UPDATE;
    SELECT * INTO keep_row FROM medcrm.account AS a WHERE a.id = keep_id;
    SELECT * INTO dup_row FROM medcrm.account AS a WHERE a.id = dup_id;
    IF keep_row.id IS NULL OR dup_row.id IS NULL THEN
        RAISE EXCEPTION 'account % does not exist', CASE WHEN keep_row.id IS NULL THEN keep_id ELSE dup_id END
            USING ERRCODE = 'no_data_found',
                  HINT = 'Check the account ids.';
    END IF;
    IF keep_row.merged_into IS NOT NULL THEN
        RAISE EXCEPTION 'cannot merge into account %: it was merged into account %', keep_id, keep_row.merged_into
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'A merged account is no longer a survivor.',
                  HINT = CASE WHEN keep_row.merged_into = dup_id
                              THEN format('Account %s was merged into account %s; to reverse that, undo the merge with medcrm.unmerge_accounts().', keep_id, dup_id)
                              ELSE format('Merge into the survivor instead: medcrm.merge_accounts(%s, %s, ...).', keep_row.merged_into, dup_id) END;
    END IF;
    IF dup_row.merged_into IS NOT NULL THEN
        SELECT m.id INTO prior FROM medcrm.account_merge AS m
         WHERE m.dup_id = dup_row.id AND m.unmerged_at IS NULL ORDER BY m.id DESC LIMIT 1;
        RAISE EXCEPTION 'account % was already merged into account %', dup_id, dup_row.merged_into
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = CASE WHEN prior IS NULL THEN 'Clear its merged_into first.'
                              ELSE format('Undo that merge first with medcrm.unmerge_accounts(%s).', prior) END;
    END IF;

    PERFORM set_config('medcrm.reason', reason, true);

    INSERT INTO medcrm.account_merge (keep_id, dup_id, reason, dup_updated_at)
    VALUES (keep_id, dup_id, reason, dup_row.updated_at)
    RETURNING id INTO mid;
    -- lets triggers that freeze rows (e.g. submitted visits) recognise the
    -- merge's re-pointing of account references; checkable in account_merge
    PERFORM set_config('medcrm.merge_id', mid::text, true);

    FOR ref IN SELECT * FROM medcrm.account_references() LOOP
        IF ref.key_columns IS NULL THEN
            RAISE EXCEPTION 'cannot merge: table % has no primary key', ref.table_name
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = format('%s.%s references medcrm.account, and merges record moved rows by primary key so that they can be undone.', ref.table_name, ref.column_name),
                      HINT = format('Add a primary key to %s.', ref.table_name);
        END IF;
        SELECT string_agg(format('%L, t.%I', c, c), ', ') INTO keyexpr FROM unnest(ref.key_columns) AS c;
        -- UPDATE ... FROM the same table by ctid: "o" is the row before the update
        EXECUTE format($q$
            WITH moved AS (
                UPDATE %1$s AS t
                   SET %2$I = %7$s
                  FROM %1$s AS o
                 WHERE o.ctid = t.ctid AND t.%2$I = $1
             RETURNING jsonb_build_object(%3$s) AS row_key, t.%2$I AS new_value, %4$s AS old_updated_at
            )
            INSERT INTO medcrm.account_merge_row
                   (merge_id, table_name, column_name, row_key, old_value, new_value, old_updated_at)
            SELECT $3, %5$L, %6$L, row_key, $1, new_value, old_updated_at FROM moved$q$,
            ref.table_name, ref.column_name, keyexpr,
            CASE WHEN ref.has_updated_at THEN 'o.updated_at' ELSE 'NULL::timestamptz' END,
            ref.table_name::text, ref.column_name,
            -- the survivor's own parent_id (or merged_into) cannot become itself
            CASE WHEN ref.table_name = 'medcrm.account'::regclass
                 THEN 'CASE WHEN t.id = $2 THEN NULL ELSE $2 END' ELSE '$2' END)
        USING dup_id, keep_id, mid;
        GET DIAGNOSTICS moved = ROW_COUNT;
        total := total + moved;
    END LOOP;

    UPDATE medcrm.account AS a SET merged_into = keep_id WHERE a.id = dup_id;
    UPDATE medcrm.account_merge AS m SET rows_moved = total WHERE m.id = mid;
    PERFORM set_config('medcrm.merge_id', '', true);
    RETURN mid;
END
$fn$;
COMMENT ON FUNCTION medcrm.merge_accounts(bigint, bigint, text) IS
    'Merges account dup_id into keep_id in one transaction: every row of every table that references the duplicate (contacts, devices, orders, invoices, contracts, visits, tasks, source keys, child accounts, ...) is moved to the survivor, dup.merged_into is set, each change is recorded in account_merge_row and audited with the reason. Returns the merge id for unmerge_accounts.';
REVOKE ALL ON FUNCTION medcrm.merge_accounts(bigint, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION medcrm.merge_accounts(bigint, bigint, text) TO medcrm_admin;

CREATE FUNCTION medcrm.unmerge_accounts(merge_id bigint, reason text DEFAULT NULL) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    m        medcrm.account_merge;
    later    bigint;
    grp      record;
    keyjoin  text;
    restored bigint;
    total    bigint := 0;
BEGIN
    SELECT * INTO m FROM medcrm.account_merge AS am WHERE am.id = merge_id FOR UPDATE;
    IF m.id IS NULL THEN
        RAISE EXCEPTION 'merge % does not exist', merge_id
            USING ERRCODE = 'no_data_found',
                  HINT = 'The merges are listed in medcrm.account_merge.';
    END IF;
    IF m.unmerged_at IS NOT NULL THEN
        RAISE EXCEPTION 'merge % was already undone', merge_id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('It was undone at %s by %s.', m.unmerged_at, m.unmerged_by),
                  HINT = 'Nothing to do.';
    END IF;
    -- a later merge that moved the survivor away must be undone first
    SELECT am.id INTO later FROM medcrm.account_merge AS am
     WHERE am.id > m.id AND am.unmerged_at IS NULL AND am.dup_id IN (m.keep_id, m.dup_id)
     ORDER BY am.id DESC LIMIT 1;
    IF later IS NOT NULL THEN
        RAISE EXCEPTION 'merge % cannot be undone before merge %', merge_id, later
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('Merge %s later merged account %s away.', later,
                                  (SELECT am.dup_id FROM medcrm.account_merge AS am WHERE am.id = later)),
                  HINT = format('Undo merge %s first.', later);
    END IF;

    PERFORM FROM medcrm.account AS a
      WHERE a.id IN (m.keep_id, m.dup_id) ORDER BY a.id FOR UPDATE;
    PERFORM set_config('medcrm.reason',
                       coalesce(nullif(btrim(unmerge_accounts.reason), ''), format('undo merge %s: %s', m.id, m.reason)), true);
    PERFORM set_config('medcrm.merge_id', m.id::text, true);

    FOR grp IN
        SELECT r.table_name, r.column_name, ar.key_columns, ar.has_updated_at
          FROM (SELECT DISTINCT mr.table_name, mr.column_name
                  FROM medcrm.account_merge_row AS mr WHERE mr.merge_id = m.id) AS r
          LEFT JOIN medcrm.account_references() AS ar
            ON ar.table_name::text = r.table_name AND ar.column_name = r.column_name
         ORDER BY r.table_name, r.column_name
    LOOP
        IF grp.key_columns IS NULL THEN
            RAISE EXCEPTION 'cannot undo merge %: %.% no longer references medcrm.account', m.id, grp.table_name, grp.column_name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Restore the foreign key (or the table) first.';
        END IF;
        SELECT string_agg(format('t.%1$I = (r.row_key ->> %2$L)::%3$s', c, c,
                                 format_type(a.atttypid, a.atttypmod)), ' AND ')
          INTO keyjoin
          FROM unnest(grp.key_columns) AS c
          JOIN pg_attribute AS a ON a.attrelid = grp.table_name::regclass AND a.attname = c;
        EXECUTE format($q$
            UPDATE %1$s AS t
               SET %2$I = r.old_value%3$s
              FROM medcrm.account_merge_row AS r
             WHERE r.merge_id = $1 AND r.table_name = %4$L AND r.column_name = %5$L
               AND %6$s
               AND t.%2$I IS NOT DISTINCT FROM r.new_value$q$,
            grp.table_name, grp.column_name,
            CASE WHEN grp.has_updated_at THEN ', updated_at = r.old_updated_at' ELSE '' END,
            grp.table_name, grp.column_name, keyjoin)
        USING m.id;
        GET DIAGNOSTICS restored = ROW_COUNT;
        total := total + restored;
    END LOOP;

    UPDATE medcrm.account AS a
       SET merged_into = NULL, updated_at = m.dup_updated_at
     WHERE a.id = m.dup_id;
    UPDATE medcrm.account_merge AS am
       SET unmerged_at = now(), unmerged_by = session_user, unmerge_reason = nullif(btrim(unmerge_accounts.reason), '')
     WHERE am.id = m.id;
    PERFORM set_config('medcrm.merge_id', '', true);
    RETURN total;
END
$fn$;
COMMENT ON FUNCTION medcrm.unmerge_accounts(bigint, text) IS
    'Undoes a merge: every row the merge moved points at the duplicate again with its previous updated_at, and the duplicate is no longer merged. Refused while a later merge moved the survivor away (undo that one first). Returns the rows restored.';
REVOKE ALL ON FUNCTION medcrm.unmerge_accounts(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION medcrm.unmerge_accounts(bigint, text) TO medcrm_admin;

------------------------------------------------------------------------------
-- Source-key sync
------------------------------------------------------------------------------

CREATE FUNCTION medcrm.upsert_account(source text, external_id text, data jsonb) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    -- field => JSON type it must have (besides null)
    allowed  constant jsonb := '{"kind": "string", "name": "string", "parent_external_id": "string",
                                 "region": "string", "province": "string", "city": "string",
                                 "hospital_grade": "string", "procurement_mode": "string",
                                 "service_level": "string", "lifecycle_stage": "string",
                                 "tags": "array", "tax_id": "string", "owner_role": "string"}';
    fields   text;
    field    text;
    bad      text;
    vals     jsonb;
    parent   bigint;
    acc_id   bigint;
    key_acc  bigint;
    hops     int := 0;
    cur      medcrm.account;
    proposed medcrm.account;
    changed  text[];
    cname    text;
    msg      text;
    det      text;
BEGIN
    IF source IS NULL OR btrim(source) = '' OR external_id IS NULL OR btrim(external_id) = '' THEN
        RAISE EXCEPTION 'source and external_id must not be empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the source system (e.g. erp) and the account''s key there.';
    END IF;
    IF data IS NULL OR jsonb_typeof(data) <> 'object' THEN
        RAISE EXCEPTION 'account data must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Got %s.', coalesce(jsonb_typeof(data), 'NULL')),
                  HINT = 'Pass an object such as {"kind": "hospital", "name": "..."}.';
    END IF;
    SELECT string_agg(k, ', ' ORDER BY k) INTO fields FROM jsonb_object_keys(allowed) AS k;

    -- every field known, of the right JSON type, and castable to its column
    FOR field IN SELECT jsonb_object_keys(data) ORDER BY 1 LOOP
        IF NOT allowed ? field THEN
            RAISE EXCEPTION 'unknown account field "%"', field
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('The payload for %s key %s has a field medcrm does not sync.', source, external_id),
                      HINT = format('Allowed fields: %s.', fields);
        END IF;
        IF jsonb_typeof(data -> field) NOT IN ('null', allowed ->> field) THEN
            RAISE EXCEPTION 'invalid value for account field "%"', field
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('Expected a JSON %s or null, got %s.', allowed ->> field, data -> field),
                      HINT = format('Send %s as a JSON %s.', field, allowed ->> field);
        END IF;
        IF jsonb_typeof(data -> field) = 'array'
           AND EXISTS (SELECT FROM jsonb_array_elements(data -> field) AS e WHERE jsonb_typeof(e) <> 'string') THEN
            RAISE EXCEPTION 'invalid value for account field "%"', field
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('Expected an array of strings, got %s.', data -> field),
                      HINT = format('Send %s as a JSON array of strings.', field);
        END IF;
        IF field <> 'parent_external_id' THEN
            BEGIN
                PERFORM jsonb_populate_record(NULL::medcrm.account, jsonb_build_object(field, data -> field));
            EXCEPTION WHEN data_exception THEN
                GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
                RAISE EXCEPTION 'invalid value for account field "%"', field
                    USING ERRCODE = 'invalid_parameter_value',
                          DETAIL = msg,
                          HINT = format('Send a value of the type of medcrm.account.%s.', field);
            END;
        END IF;
    END LOOP;

    vals := data - 'parent_external_id';
    IF data ? 'parent_external_id' THEN
        IF jsonb_typeof(data -> 'parent_external_id') <> 'null' THEN
            SELECT k.account_id INTO parent FROM medcrm.account_source_key AS k
             WHERE k.source = upsert_account.source AND k.external_id = data ->> 'parent_external_id';
            IF parent IS NULL THEN
                RAISE EXCEPTION 'unknown parent key % of source %', data ->> 'parent_external_id', source
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'Sync the parent account before its children.';
            END IF;
            SELECT coalesce(a.merged_into, a.id) INTO parent FROM medcrm.account AS a WHERE a.id = parent;
        END IF;
        vals := vals || jsonb_build_object('parent_id', parent);
    END IF;

    IF coalesce(current_setting('medcrm.reason', true), '') = '' THEN
        PERFORM set_config('medcrm.reason', format('sync from %s key %s', source, external_id), true);
    END IF;
    -- one feed writer per key at a time
    PERFORM pg_advisory_xact_lock(hashtextextended('medcrm.upsert_account:' || source || chr(31) || external_id, 0));

    SELECT k.account_id INTO key_acc FROM medcrm.account_source_key AS k
     WHERE k.source = upsert_account.source AND k.external_id = upsert_account.external_id;

    BEGIN
        IF key_acc IS NULL THEN
            IF NOT (vals ? 'kind' AND vals ? 'name') THEN
                RAISE EXCEPTION 'new account from % key % needs kind and name', source, external_id
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'Send at least "kind" and "name" the first time a key is synced.';
            END IF;
            SELECT string_agg(format('%I', k), ', ') INTO fields FROM jsonb_object_keys(vals) AS k;
            EXECUTE format('INSERT INTO medcrm.account (%1$s) SELECT %1$s FROM jsonb_populate_record(NULL::medcrm.account, $1) RETURNING id', fields)
               INTO acc_id USING vals;
            INSERT INTO medcrm.account_source_key (source, external_id, account_id)
            VALUES (source, external_id, acc_id);
            RETURN acc_id;
        END IF;

        -- follow merges to the survivor; a key left on a merged account moves there
        acc_id := key_acc;
        LOOP
            SELECT * INTO cur FROM medcrm.account AS a WHERE a.id = acc_id FOR UPDATE;
            EXIT WHEN cur.merged_into IS NULL OR hops > 100;
            acc_id := cur.merged_into;
            hops := hops + 1;
        END LOOP;
        IF acc_id <> key_acc THEN
            UPDATE medcrm.account_source_key AS k SET account_id = acc_id
             WHERE k.source = upsert_account.source AND k.external_id = upsert_account.external_id;
        END IF;

        proposed := jsonb_populate_record(cur, vals);
        SELECT array_agg(k ORDER BY k) INTO changed
          FROM jsonb_object_keys(vals) AS k
         WHERE (to_jsonb(cur) -> k) IS DISTINCT FROM (to_jsonb(proposed) -> k);
        IF changed IS NOT NULL THEN
            SELECT string_agg(format('%I', c), ', ') INTO fields FROM unnest(changed) AS c;
            EXECUTE format('UPDATE medcrm.account AS a SET (%1$s) = (SELECT %1$s FROM jsonb_populate_record(NULL::medcrm.account, $1)) WHERE a.id = $2', fields)
              USING vals, acc_id;
        END IF;
        RETURN acc_id;
    EXCEPTION WHEN check_violation OR not_null_violation OR foreign_key_violation THEN
        GET STACKED DIAGNOSTICS cname = CONSTRAINT_NAME, msg = MESSAGE_TEXT, det = COLUMN_NAME;
        SELECT format('The payload breaks constraint %s on %s: %s.', c.conname,
                      (SELECT string_agg(a.attname, ', ' ORDER BY a.attnum) FROM pg_attribute AS a
                        WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)),
                      pg_get_constraintdef(c.oid))
          INTO det
          FROM pg_constraint AS c
         WHERE c.conrelid = 'medcrm.account'::regclass AND c.conname = cname;
        RAISE EXCEPTION 'invalid account data from % key %', source, external_id
            USING ERRCODE = 'check_violation',
                  DETAIL = coalesce(det, msg || '.'),
                  HINT = 'Correct that value in the payload (or send the missing field).';
    END;
END
$fn$;
COMMENT ON FUNCTION medcrm.upsert_account(text, text, jsonb) IS
    'Idempotent sync of one account from a source system (ERP, CRM): an unknown (source, external_id) creates the account and its key; a known key updates only the fields whose value differs (the same payload twice issues no UPDATE and writes no audit row); a key of a merged account lands on the survivor. Unknown fields and bad values are refused (22023, 23514). Fields absent from data stay as they are. Returns the survivor''s id.';
REVOKE ALL ON FUNCTION medcrm.upsert_account(text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION medcrm.upsert_account(text, text, jsonb) TO medcrm_admin;

------------------------------------------------------------------------------
-- GS1 UDI
------------------------------------------------------------------------------

CREATE FUNCTION medcrm.parse_udi(udi text)
    RETURNS TABLE (gtin text, lot text, serial text, expiry date, manufactured date)
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE ROWS 1
    AS 'MODULE_PATHNAME', 'medcrm_parse_udi';
COMMENT ON FUNCTION medcrm.parse_udi(text) IS
    'Parses a GS1 UDI element string, bracketed ((01)...(17)...(10)...(21)...) or FNC1/GS-separated as scanned: GTIN-14 with check digit, expiry (17) and production (11) dates YYMMDD (DD 00 = end of month, years 20YY), lot (10), serial (21). One row; an invalid UDI raises 22P02 naming the bad element.';

-- installed_device.udi must agree with batch_no, serial_no and the product's
-- GTIN: statement-level AFTER triggers over the transition tables (COPY keeps
-- its batching); quiet during a restore (session_replication_role = replica).
CREATE FUNCTION medcrm.installed_device_check_udi() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r record;
BEGIN
    IF TG_LEVEL <> 'STATEMENT' OR TG_WHEN <> 'AFTER' THEN
        RAISE EXCEPTION 'installed_device_check_udi() must be an AFTER ... FOR EACH STATEMENT trigger'
            USING ERRCODE = 'trigger_protocol_violated';
    END IF;
    IF TG_TABLE_NAME = 'installed_device' AND TG_OP = 'INSERT' THEN
        SELECT n.id, n.udi, n.batch_no, n.serial_no, p.gtin AS product_gtin, p.model_code, u.gtin, u.lot, u.serial
          INTO r
          FROM new_rows AS n
          JOIN medcrm.product AS p ON p.id = n.product_id
          CROSS JOIN LATERAL medcrm.parse_udi(n.udi) AS u
         WHERE n.udi IS NOT NULL
           AND ((u.lot IS NOT NULL AND n.batch_no IS DISTINCT FROM u.lot)
             OR (u.serial IS NOT NULL AND n.serial_no IS DISTINCT FROM u.serial)
             OR (p.gtin IS NOT NULL AND u.gtin <> p.gtin))
         ORDER BY n.id LIMIT 1;
    ELSIF TG_TABLE_NAME = 'installed_device' THEN
        SELECT n.id, n.udi, n.batch_no, n.serial_no, p.gtin AS product_gtin, p.model_code, u.gtin, u.lot, u.serial
          INTO r
          FROM new_rows AS n
          JOIN old_rows AS o ON o.id = n.id
          JOIN medcrm.product AS p ON p.id = n.product_id
          CROSS JOIN LATERAL medcrm.parse_udi(n.udi) AS u
         WHERE n.udi IS NOT NULL
           AND (o.udi, o.batch_no, o.serial_no, o.product_id) IS DISTINCT FROM (n.udi, n.batch_no, n.serial_no, n.product_id)
           AND ((u.lot IS NOT NULL AND n.batch_no IS DISTINCT FROM u.lot)
             OR (u.serial IS NOT NULL AND n.serial_no IS DISTINCT FROM u.serial)
             OR (p.gtin IS NOT NULL AND u.gtin <> p.gtin))
         ORDER BY n.id LIMIT 1;
    ELSE
        -- product: a changed GTIN must still match the UDIs of its devices
        SELECT d.id, d.udi, d.batch_no, d.serial_no, n.gtin AS product_gtin, n.model_code, u.gtin, u.lot, u.serial
          INTO r
          FROM new_rows AS n
          JOIN old_rows AS o ON o.id = n.id
          JOIN medcrm.installed_device AS d ON d.product_id = n.id
          CROSS JOIN LATERAL medcrm.parse_udi(d.udi) AS u
         WHERE n.gtin IS NOT NULL AND n.gtin IS DISTINCT FROM o.gtin
           AND d.udi IS NOT NULL AND u.gtin <> n.gtin
         ORDER BY d.id LIMIT 1;
    END IF;
    IF r.id IS NULL THEN
        RETURN NULL;
    END IF;
    IF r.product_gtin IS NOT NULL AND r.gtin <> r.product_gtin THEN
        RAISE EXCEPTION 'udi of installed device % disagrees with its product''s GTIN', r.id
            USING ERRCODE = 'check_violation', TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA,
                  DETAIL = format('The UDI carries GTIN (01) %s; product %s has GTIN %s.', r.gtin, r.model_code, r.product_gtin),
                  HINT = 'Correct the UDI, the device''s product_id or the product''s gtin.';
    ELSIF r.lot IS NOT NULL AND r.batch_no IS DISTINCT FROM r.lot THEN
        RAISE EXCEPTION 'udi of installed device % disagrees with its batch_no', r.id
            USING ERRCODE = 'check_violation', TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA,
                  DETAIL = format('The UDI carries lot (10) "%s"; batch_no is %s.', r.lot, coalesce('"' || r.batch_no || '"', 'NULL')),
                  HINT = 'Set batch_no to the lot of the UDI (recalls select devices by batch_no), or correct the UDI.';
    ELSE
        RAISE EXCEPTION 'udi of installed device % disagrees with its serial_no', r.id
            USING ERRCODE = 'check_violation', TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA,
                  DETAIL = format('The UDI carries serial (21) "%s"; serial_no is "%s".', r.serial, r.serial_no),
                  HINT = 'Set serial_no to the serial of the UDI, or correct the UDI.';
    END IF;
END
$fn$;
COMMENT ON FUNCTION medcrm.installed_device_check_udi() IS
    'Statement-level AFTER trigger of installed_device (INSERT, UPDATE) and product (UPDATE): a device''s UDI must parse, and its lot (10), serial (21) and GTIN (01) must agree with batch_no, serial_no and the product''s gtin.';
REVOKE ALL ON FUNCTION medcrm.installed_device_check_udi() FROM PUBLIC;

CREATE TRIGGER installed_device_check_udi_insert AFTER INSERT ON medcrm.installed_device
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION medcrm.installed_device_check_udi();
CREATE TRIGGER installed_device_check_udi_update AFTER UPDATE ON medcrm.installed_device
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION medcrm.installed_device_check_udi();
CREATE TRIGGER product_check_udi_update AFTER UPDATE ON medcrm.product
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION medcrm.installed_device_check_udi();
