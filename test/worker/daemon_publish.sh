#!/usr/bin/env bash
# daemon_publish.sh — the outbox only holds workbooks of runs that are ok.
# The workbook is renamed into the outbox inside the transaction that then
# records the run ok; when that fails the daemon removes the file it just
# published (event=unpublished) and the run is retried:
#   1. report_complete() raises (a test-only trigger on report_run, once);
#   2. the COMMIT fails (a test-only deferred constraint trigger, once).
# Each time: no file of the run in the outbox after the failed attempt, the
# attempt recorded with its error; after the backoff the retry is ok at
# attempt 2 with exactly one file, whose SHA-256 is the recorded one.
. "$(dirname "$0")/daemon_lib.bash"

db=medcrm_daemon_publish
daemon_setup $db '"lease_seconds": 30, "retry_base_seconds": 1, "retry_max_seconds": 4'
# test-only: fail the first recording of a run as ok (sequence: not rolled back)
q $db "CREATE SEQUENCE public.fail_complete; CREATE SEQUENCE public.fail_commit;
       CREATE FUNCTION public.fail_complete() RETURNS trigger LANGUAGE plpgsql AS
       \$\$BEGIN
           IF nextval('public.fail_complete') = 1 THEN
               RAISE EXCEPTION 'test: report_complete fails once';
           END IF;
           RETURN NEW;
       END\$\$;
       CREATE FUNCTION public.fail_commit() RETURNS trigger LANGUAGE plpgsql AS
       \$\$BEGIN
           IF nextval('public.fail_commit') = 1 THEN
               RAISE EXCEPTION 'test: the commit fails once';
           END IF;
           RETURN NULL;
       END\$\$" >/dev/null

# check_case N WHAT: run the daemon twice (failed attempt, then retry)
check_case() {
  local n=$1 what=$2 run rc=0 sha
  run=$(q $db "SELECT medcrm.request_report('compliance', '2026-10-01', '2026-11-01')")
  medcrm-report daemon --once --config "$WORK/daemon.json" 2>"$WORK/c$n-1.log" || rc=$?
  expect_eq "$what: --once exits 1" 1 "$rc"
  expect_eq "$what: the attempt is recorded failed and queued again" "queued|1|1" \
    "$(q $db "SELECT status || '|' || attempts || '|' || (error LIKE '%test: %fails once%')::int FROM medcrm.report_run WHERE id = $run")"
  expect_eq "$what: no file of the run in the outbox" "" "$(outbox_files "$out" | tr ' ' '\n' | grep "_run$run\\.xlsx" || true)"
  expect_eq "$what: nothing left in staging" "" "$(ls -A "$out/.staging")"
  grep -qE "run=$run event=unpublished attempt=1 file=$out/compliance-[^ ]*_run$run\\.xlsx" "$WORK/c$n-1.log" \
    || { cat "$WORK/c$n-1.log"; fail "$what: no unpublished line"; }
  echo "ok - $what: the removal is logged"
  sleep 1.2
  medcrm-report daemon --once --config "$WORK/daemon.json" 2>"$WORK/c$n-2.log" || { cat "$WORK/c$n-2.log"; fail "$what: the retry failed"; }
  expect_eq "$what: the retry is ok at attempt 2" "ok|2" \
    "$(q $db "SELECT status || '|' || attempts FROM medcrm.report_run WHERE id = $run")"
  expect_eq "$what: exactly one file of the run in the outbox" 1 \
    "$(outbox_files "$out" | tr ' ' '\n' | grep -c "_run$run\\.xlsx")"
  sha=$(q $db "SELECT file_sha256 FROM medcrm.report_run WHERE id = $run")
  expect_eq "$what: … with the recorded SHA-256" "$sha" \
    "$(sha256sum <"$(q $db "SELECT file_path FROM medcrm.report_run WHERE id = $run")" | cut -d' ' -f1)"
}

q $db "CREATE TRIGGER fail_complete BEFORE UPDATE ON medcrm.report_run FOR EACH ROW
       WHEN (NEW.status = 'ok' AND OLD.status <> 'ok') EXECUTE FUNCTION public.fail_complete()" >/dev/null
check_case 1 "report_complete fails"
q $db "DROP TRIGGER fail_complete ON medcrm.report_run" >/dev/null

q $db "CREATE CONSTRAINT TRIGGER fail_commit AFTER UPDATE ON medcrm.report_run
       DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
       WHEN (NEW.status = 'ok' AND OLD.status <> 'ok') EXECUTE FUNCTION public.fail_commit()" >/dev/null
check_case 2 "the COMMIT fails"
q $db "DROP TRIGGER fail_commit ON medcrm.report_run" >/dev/null

expect_eq "the outbox holds the two ok runs' files only" 2 "$(find "$out" -maxdepth 1 -type f | wc -l)"
dropdb $db
