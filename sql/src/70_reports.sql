-- sql/src/70_reports.sql — what the report worker (medcrm-report) reads, and
-- how a run is requested.
--
-- The worker logs in as a member of medcrm_reporter: it reads the BI views
-- (personal data masked), the KPI functions, the audit trail and its
-- verification (granted where they are defined), and the base tables the
-- workbooks summarise (18_grants.sql; never contact phone, e-mail or
-- national id).

CREATE FUNCTION medcrm.request_report(report text, from_date date, to_date date,
                                      recipients text[])
    RETURNS bigint
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    run_id bigint;
BEGIN
    IF report IS NULL OR NOT report = ANY (medcrm.report_names()) THEN
        RAISE EXCEPTION 'unknown report "%"', report
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The reports are ' || array_to_string(medcrm.report_names(), ' and ') || '.',
                  HINT = 'Call medcrm.request_report(''kpi'', from_date, to_date).';
    END IF;
    IF from_date IS NULL OR to_date IS NULL THEN
        RAISE EXCEPTION 'report period must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  DETAIL = 'Both from_date and to_date are required.',
                  HINT = 'For October 2026 pass ''2026-10-01'' and ''2026-11-01''.';
    END IF;
    IF from_date >= to_date THEN
        RAISE EXCEPTION 'report period is empty'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('from_date %s is not before to_date %s.', from_date, to_date),
                  HINT = 'to_date is exclusive: for October 2026 pass ''2026-10-01'' and ''2026-11-01''.';
    END IF;
    BEGIN
        INSERT INTO medcrm.report_run (report, period_from, period_to, status, recipients)
        VALUES (report, from_date, to_date, 'queued', coalesce(recipients, '{}'))
        RETURNING id INTO run_id;
    EXCEPTION WHEN check_violation THEN
        RAISE EXCEPTION 'invalid report recipients'
            USING ERRCODE = 'check_violation',
                  DETAIL = format('Recipients %s are not all plain e-mail addresses.', recipients),
                  HINT = 'Pass addresses such as ARRAY[''anna.weber@example.com''], without display names or NULLs.';
    END;
    -- wakes the daemons (LISTEN medcrm_report) when the transaction commits
    PERFORM pg_catalog.pg_notify('medcrm_report', run_id::text);
    RETURN run_id;
END
$fn$;
COMMENT ON FUNCTION medcrm.request_report(text, date, date, text[]) IS
    'Queues a run of the kpi or compliance workbook for [from_date, to_date) now, to be e-mailed to recipients once produced, and notifies the report daemons (channel medcrm_report); returns the report_run id.';
REVOKE ALL ON FUNCTION medcrm.request_report(text, date, date, text[]) FROM PUBLIC;
-- Sending a workbook to addresses of one's choosing through the company's
-- relay is for the report administrators; quality and audit request runs
-- into the outbox (the three-argument form below).
GRANT EXECUTE ON FUNCTION medcrm.request_report(text, date, date, text[])
    TO medcrm_admin, medcrm_reporter;

CREATE FUNCTION medcrm.request_report(report text, from_date date, to_date date)
    RETURNS bigint
    LANGUAGE sql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    RETURN medcrm.request_report(report, from_date, to_date, '{}'::text[]);
COMMENT ON FUNCTION medcrm.request_report(text, date, date) IS
    'Queues a run of the kpi or compliance workbook for [from_date, to_date) now and notifies the report daemons (channel medcrm_report); the workbook lands in the outbox. Returns the report_run id.';
REVOKE ALL ON FUNCTION medcrm.request_report(text, date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION medcrm.request_report(text, date, date)
    TO medcrm_admin, medcrm_reporter, medcrm_quality, medcrm_auditor;

-- The report daemon's queue (medcrm-report daemon, workers/queue.c).
--
-- Every state change of a run is one short transaction in one of the
-- functions below; the workbook itself is produced outside any of them. A
-- daemon identifies itself by a worker name (host:pid:instance); a function
-- that finds the run no longer held by that worker (its lease expired and
-- another daemon took the run over) changes nothing and says so. The daemons
-- LISTEN on the channel medcrm_report: request_report(), a released run and
-- every change of report_schedule notify it.

CREATE FUNCTION medcrm.report_claim(worker text, lease_seconds integer)
    RETURNS TABLE (run_id bigint, report text, period_from date, period_to date,
                   attempts integer, taken_over_from text)
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s record;
    r record;
    anchor timestamp;   -- the schedule's anchor in its local time
    k integer;          -- index of the due time at hand
    nxt timestamptz;
    n integer;
    msg text;
    state text;
BEGIN
    IF worker IS NULL OR worker = '' OR lease_seconds IS NULL OR lease_seconds < 1 THEN
        RAISE EXCEPTION 'invalid claim'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A claim needs a worker name and a lease of at least 1 second.',
                  HINT = 'Call medcrm.report_claim(''host:pid'', 300).';
    END IF;
    -- 1. Due schedules become runs: one per period, caught up period by
    --    period after an outage. The k-th due time of a schedule is
    --    anchor_at + k * every in its time zone; its run reports the local
    --    dates from due time k - 1 to due time k. A schedule locked by another
    --    daemon is skipped; the unique key (schedule_id, period_from) makes a
    --    second run for a period impossible anyway. A schedule whose due time
    --    cannot become a run is disabled with the error, so that one bad row
    --    never stops the queue.
    FOR s IN
        SELECT sc.id, sc.report, sc.every, sc.anchor_at, sc.periods_done, sc.time_zone, sc.recipients
          FROM medcrm.report_schedule AS sc
         WHERE sc.enabled AND sc.next_run_at <= now()
         ORDER BY sc.next_run_at, sc.id
           FOR UPDATE SKIP LOCKED
    LOOP
        BEGIN
            anchor := s.anchor_at AT TIME ZONE s.time_zone;
            k := s.periods_done;
            n := 0;
            LOOP
                nxt := (anchor + s.every * k) AT TIME ZONE s.time_zone;
                EXIT WHEN nxt > now() OR n >= 1000;
                INSERT INTO medcrm.report_run AS rr
                       (schedule_id, report, period_from, period_to, recipients, queued_at, next_attempt_at)
                VALUES (s.id, s.report, (anchor + s.every * (k - 1))::date,
                        (anchor + s.every * k)::date, s.recipients, now(), now())
                ON CONFLICT ON CONSTRAINT report_run_schedule_period_key DO NOTHING;
                k := k + 1;
                n := n + 1;
            END LOOP;
            UPDATE medcrm.report_schedule AS sc
               SET next_run_at = nxt, periods_done = k, error = NULL
             WHERE sc.id = s.id;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, state = RETURNED_SQLSTATE;
            UPDATE medcrm.report_schedule AS sc
               SET enabled = false,
                   error = format('disabled at %s: its due time %s could not become a run: %s (SQLSTATE %s)',
                                  now(), nxt, msg, state)
             WHERE sc.id = s.id;
        END;
    END LOOP;

    -- 2. One claimable run: queued and due, or running with an expired lease
    --    (its worker died). A run out of attempts whose worker died is failed.
    LOOP
        SELECT rr.id, rr.status, rr.attempts, rr.max_attempts, rr.worker
          INTO r
          FROM medcrm.report_run AS rr
         WHERE rr.status IN ('queued', 'running')
           AND ((rr.status = 'queued' AND rr.next_attempt_at <= now())
                OR (rr.status = 'running' AND rr.lease_expires_at < now()))
         ORDER BY rr.next_attempt_at, rr.id
         LIMIT 1
           FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            RETURN;
        END IF;
        IF r.status = 'running' AND r.attempts >= r.max_attempts THEN
            UPDATE medcrm.report_run AS rr
               SET status = 'failed', finished_at = now(), lease_expires_at = NULL,
                   error = format('worker %s stopped renewing its lease during attempt %s of %s',
                                  r.worker, r.attempts, r.max_attempts)
             WHERE rr.id = r.id;
            CONTINUE;
        END IF;
        RETURN QUERY
        UPDATE medcrm.report_run AS rr
           SET status = 'running', attempts = rr.attempts + 1, started_at = now(),
               finished_at = NULL, lease_expires_at = now() + make_interval(secs => lease_seconds),
               worker = report_claim.worker
         WHERE rr.id = r.id
        RETURNING rr.id, rr.report, rr.period_from, rr.period_to, rr.attempts,
                  CASE WHEN r.status = 'running' THEN r.worker END;
        RETURN;
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION medcrm.report_claim(text, integer) IS
    'Turns due report_schedule periods into queued runs (one per period, advancing next_run_at), then claims one due run for worker with FOR UPDATE SKIP LOCKED: status running, attempts + 1, a lease of lease_seconds. A running run whose lease expired is taken over (taken_over_from names the old worker). No row when nothing is due.';

CREATE FUNCTION medcrm.report_heartbeat(run_id bigint, worker text, lease_seconds integer)
    RETURNS boolean
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    UPDATE medcrm.report_run AS rr
       SET lease_expires_at = now() + make_interval(secs => lease_seconds)
     WHERE rr.id = report_heartbeat.run_id AND rr.worker = report_heartbeat.worker
       AND rr.status = 'running';
    RETURN FOUND;
END
$fn$;
COMMENT ON FUNCTION medcrm.report_heartbeat(bigint, text, integer) IS
    'Renews the lease of a running run held by worker; false when the worker no longer holds it.';

CREATE FUNCTION medcrm.report_hold(run_id bigint, worker text)
    RETURNS boolean
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM 1 FROM medcrm.report_run AS rr
     WHERE rr.id = report_hold.run_id AND rr.worker = report_hold.worker
       AND rr.status = 'running'
       FOR UPDATE;
    RETURN FOUND;
END
$fn$;
COMMENT ON FUNCTION medcrm.report_hold(bigint, text) IS
    'Locks a running run held by worker until the end of the transaction (the daemon publishes the workbook while holding it, then calls report_complete); false when the worker no longer holds it.';

CREATE FUNCTION medcrm.report_complete(run_id bigint, worker text, file_path text,
                                       file_sha256 text, row_count bigint)
    RETURNS boolean
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    UPDATE medcrm.report_run AS rr
       SET status = 'ok', finished_at = now(), lease_expires_at = NULL,
           file_path = report_complete.file_path, file_sha256 = report_complete.file_sha256,
           row_count = report_complete.row_count,
           delivery_status = CASE WHEN cardinality(rr.recipients) > 0 THEN 'pending' ELSE 'none' END,
           next_delivery_at = CASE WHEN cardinality(rr.recipients) > 0 THEN now() END
     WHERE rr.id = report_complete.run_id AND rr.worker = report_complete.worker
       AND rr.status = 'running';
    RETURN FOUND;
END
$fn$;
COMMENT ON FUNCTION medcrm.report_complete(bigint, text, text, text, bigint) IS
    'Records a finished run: status ok with its file, SHA-256 and row count; its e-mail delivery becomes pending when it has recipients. False when worker no longer holds the run.';

CREATE FUNCTION medcrm.report_fail(run_id bigint, worker text, error text, retry_seconds double precision)
    RETURNS text
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    st text;
BEGIN
    UPDATE medcrm.report_run AS rr
       SET status = CASE WHEN rr.attempts >= rr.max_attempts THEN 'failed' ELSE 'queued' END,
           finished_at = CASE WHEN rr.attempts >= rr.max_attempts THEN now() END,
           next_attempt_at = now() + make_interval(secs => greatest(retry_seconds, 0)),
           lease_expires_at = NULL, error = report_fail.error
     WHERE rr.id = report_fail.run_id AND rr.worker = report_fail.worker
       AND rr.status = 'running'
    RETURNING rr.status INTO st;
    RETURN st;
END
$fn$;
COMMENT ON FUNCTION medcrm.report_fail(bigint, text, text, double precision) IS
    'Records a failed attempt: queued again after retry_seconds (the daemon''s exponential backoff), or failed once attempts reach max_attempts. Returns the new status, NULL when worker no longer holds the run.';

CREATE FUNCTION medcrm.report_release(run_id bigint, worker text)
    RETURNS boolean
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    UPDATE medcrm.report_run AS rr
       SET status = 'queued', attempts = rr.attempts - 1, started_at = NULL,
           next_attempt_at = now(), lease_expires_at = NULL
     WHERE rr.id = report_release.run_id AND rr.worker = report_release.worker
       AND rr.status = 'running';
    IF FOUND THEN
        PERFORM pg_catalog.pg_notify('medcrm_report', report_release.run_id::text);
    END IF;
    RETURN FOUND;
END
$fn$;
COMMENT ON FUNCTION medcrm.report_release(bigint, text) IS
    'Gives a running run back to the queue without counting the attempt (a daemon stopping on SIGTERM) and wakes the other daemons.';

CREATE FUNCTION medcrm.report_claim_delivery(worker text, lease_seconds integer)
    RETURNS TABLE (run_id bigint, report text, period_from date, period_to date,
                   file_path text, file_sha256 text, recipients text[], delivery_attempts integer)
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r record;
BEGIN
    LOOP
        SELECT rr.id, rr.delivery_status, rr.delivery_attempts, rr.max_attempts, rr.delivery_worker
          INTO r
          FROM medcrm.report_run AS rr
         WHERE rr.delivery_status IN ('pending', 'sending') AND rr.status = 'ok'
           AND ((rr.delivery_status = 'pending' AND rr.next_delivery_at <= now())
                OR (rr.delivery_status = 'sending' AND rr.lease_expires_at < now()))
         ORDER BY rr.next_delivery_at, rr.id
         LIMIT 1
           FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            RETURN;
        END IF;
        IF r.delivery_status = 'sending' AND r.delivery_attempts >= r.max_attempts THEN
            UPDATE medcrm.report_run AS rr
               SET delivery_status = 'failed', lease_expires_at = NULL,
                   delivery_error = format('worker %s stopped during delivery attempt %s of %s',
                                           r.delivery_worker, r.delivery_attempts, r.max_attempts)
             WHERE rr.id = r.id;
            CONTINUE;
        END IF;
        RETURN QUERY
        UPDATE medcrm.report_run AS rr
           SET delivery_status = 'sending', delivery_attempts = rr.delivery_attempts + 1,
               delivery_worker = report_claim_delivery.worker,
               lease_expires_at = now() + make_interval(secs => lease_seconds)
         WHERE rr.id = r.id
        RETURNING rr.id, rr.report, rr.period_from, rr.period_to, rr.file_path, rr.file_sha256,
                  rr.recipients, rr.delivery_attempts;
        RETURN;
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION medcrm.report_claim_delivery(text, integer) IS
    'Claims one finished run whose e-mail is due (pending, or sending by a worker whose lease expired) for worker: delivery_status sending, delivery_attempts + 1. The workbook is sent as it is in the outbox, never produced again.';

CREATE FUNCTION medcrm.report_delivered(run_id bigint, worker text)
    RETURNS boolean
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    UPDATE medcrm.report_run AS rr
       SET delivery_status = 'sent', delivered_at = now(), lease_expires_at = NULL
     WHERE rr.id = report_delivered.run_id AND rr.delivery_worker = report_delivered.worker
       AND rr.delivery_status = 'sending';
    RETURN FOUND;
END
$fn$;
COMMENT ON FUNCTION medcrm.report_delivered(bigint, text) IS
    'Records that the relay accepted the e-mail of a run (delivery_status sent).';

CREATE FUNCTION medcrm.report_delivery_failed(run_id bigint, worker text, error text,
                                              retry_seconds double precision)
    RETURNS text
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    st text;
BEGIN
    UPDATE medcrm.report_run AS rr
       SET delivery_status = CASE WHEN rr.delivery_attempts >= rr.max_attempts THEN 'failed' ELSE 'pending' END,
           next_delivery_at = now() + make_interval(secs => greatest(retry_seconds, 0)),
           lease_expires_at = NULL, delivery_error = report_delivery_failed.error
     WHERE rr.id = report_delivery_failed.run_id AND rr.delivery_worker = report_delivery_failed.worker
       AND rr.delivery_status = 'sending'
    RETURNING rr.delivery_status INTO st;
    RETURN st;
END
$fn$;
COMMENT ON FUNCTION medcrm.report_delivery_failed(bigint, text, text, double precision) IS
    'Records a failed e-mail delivery: pending again after retry_seconds, or failed once delivery_attempts reach max_attempts. Returns the new delivery status, NULL when worker no longer holds the delivery.';

CREATE FUNCTION medcrm.report_due_in(deliveries boolean)
    RETURNS double precision
    LANGUAGE sql
    STABLE
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT CASE WHEN min(t) IS NOT NULL
                THEN greatest(0, extract(epoch FROM min(t) - now()))::double precision END
      FROM (SELECT min(sc.next_run_at) FROM medcrm.report_schedule AS sc WHERE sc.enabled
            UNION ALL
            SELECT min(CASE rr.status WHEN 'queued' THEN rr.next_attempt_at ELSE rr.lease_expires_at END)
              FROM medcrm.report_run AS rr WHERE rr.status IN ('queued', 'running')
            UNION ALL
            SELECT min(CASE rr.delivery_status WHEN 'pending' THEN rr.next_delivery_at ELSE rr.lease_expires_at END)
              FROM medcrm.report_run AS rr
             WHERE deliveries AND rr.status = 'ok' AND rr.delivery_status IN ('pending', 'sending')) AS d (t)
$fn$;
COMMENT ON FUNCTION medcrm.report_due_in(boolean) IS
    'Seconds until the next schedule, queued run, expiring lease or (when deliveries) e-mail delivery is due; 0 when one is due now, NULL when nothing is waiting. The daemon sleeps that long unless notified.';

CREATE FUNCTION medcrm.report_schedule_notify() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM pg_catalog.pg_notify('medcrm_report', 'schedule');
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION medcrm.report_schedule_notify() IS
    'Wakes the report daemons (channel medcrm_report) after a change of report_schedule, so that a new or moved schedule is waited for from now on.';
CREATE TRIGGER report_schedule_notify AFTER INSERT OR UPDATE OR DELETE ON medcrm.report_schedule
    FOR EACH STATEMENT EXECUTE FUNCTION medcrm.report_schedule_notify();
COMMENT ON TRIGGER report_schedule_notify ON medcrm.report_schedule IS
    'Notifies channel medcrm_report once per statement.';

DO $grants$
DECLARE
    fn text;
BEGIN
    FOREACH fn IN ARRAY ARRAY['medcrm.report_claim(text,integer)',
        'medcrm.report_heartbeat(bigint,text,integer)', 'medcrm.report_hold(bigint,text)',
        'medcrm.report_complete(bigint,text,text,text,bigint)',
        'medcrm.report_fail(bigint,text,text,double precision)',
        'medcrm.report_release(bigint,text)', 'medcrm.report_claim_delivery(text,integer)',
        'medcrm.report_delivered(bigint,text)',
        'medcrm.report_delivery_failed(bigint,text,text,double precision)',
        'medcrm.report_due_in(boolean)']
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO medcrm_admin, medcrm_reporter', fn);
    END LOOP;
END
$grants$;
REVOKE ALL ON FUNCTION medcrm.report_schedule_notify() FROM PUBLIC;

