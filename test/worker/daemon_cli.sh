#!/usr/bin/env bash
# daemon_cli.sh — medcrm-report daemon: usage and configuration errors exit 2
# with a message naming the problem (no outbox, unknown key, a password in a
# file others can read — never printing the password); --check validates the
# config, the outbox, the layouts and the database (exit 0 or 2); a failing
# run is retried after 1 s, 2 s and failed at max_attempts; --once against an
# unreachable database gives up after three tries (exit 1).
. "$(dirname "$0")/daemon_lib.bash"

db=medcrm_daemon_cli
fresh_db $db
export PGDATABASE=$db
out=$WORK/outbox
mkdir -p "$out"

expect_exit "daemon without an outbox" 2 medcrm-report daemon --once
expect_stderr "… says so" "medcrm-report: no outbox directory"
expect_stderr "… and how to give one" "HINT: Give --outbox DIR or \"outbox\" in --config"
expect_exit "daemon with a missing outbox" 2 medcrm-report daemon --once --outbox "$WORK/nowhere"
expect_stderr "… names it" "outbox \"$WORK/nowhere\" is not a directory"
expect_exit "daemon with --from" 2 medcrm-report daemon --from 2026-10-01 --outbox "$out"
expect_stderr "… belongs to run" "daemon: --from, --to, --output and --layout belong to \"run\""
expect_exit "run with --once" 2 medcrm-report run kpi --once
expect_exit "daemon with an extra argument" 2 medcrm-report daemon kpi --outbox "$out"
expect_exit "--once with --check" 2 medcrm-report daemon --once --check --outbox "$out"

echo '{"outbox": "'"$out"'", "lease": 30}' >"$WORK/unknown.json"
expect_exit "unknown config key" 2 medcrm-report daemon --once --config "$WORK/unknown.json"
expect_stderr "… named" "$WORK/unknown.json: unknown key \"lease\""
echo '{"outbox": "'"$out"'", "lease_seconds": 1}' >"$WORK/range.json"
expect_exit "lease_seconds out of range" 2 medcrm-report daemon --check --config "$WORK/range.json"
expect_stderr "… with its range" "\"lease_seconds\": expected a whole number from 2 to 86400"
cat >"$WORK/smtp.json" <<JSON
{"outbox": "$out", "smtp": {"url": "smtp://127.0.0.1:25", "starttls": true, "from": "reports@example.com",
 "username": "reports", "password": "Tr0ub4dor-secret"}}
JSON
chmod 644 "$WORK/smtp.json"
expect_exit "a password in a world-readable config" 2 medcrm-report daemon --once --config "$WORK/smtp.json"
expect_stderr "… is refused with the mode" "$WORK/smtp.json: holds the SMTP password but is accessible by group or others (mode 0644)"
expect_stderr "… and the fix" "HINT: Make it readable by the daemon's user only: chmod 600 $WORK/smtp.json"
chmod 640 "$WORK/smtp.json"
expect_exit "a password in a group-readable config" 2 medcrm-report daemon --check --config "$WORK/smtp.json"
grep -q Tr0ub4dor "$WORK/stderr" "$WORK/stdout" && fail "the password was printed"
echo "ok - the password is never printed"
sed 's/"starttls": true, //' "$WORK/smtp.json" >"$WORK/plain.json"
chmod 600 "$WORK/plain.json"
expect_exit "a login over smtp:// without STARTTLS" 2 medcrm-report daemon --check --config "$WORK/plain.json"
expect_stderr "… is refused: the password would cross the network in clear" \
  "$WORK/plain.json: \"smtp\": a login needs TLS, but \"url\" is smtp:// and \"starttls\" is false"
expect_stderr "… with the fix" "HINT: Set \"starttls\": true for a relay on port 587, or write \"url\": \"smtps://HOST:465\""
grep -q Tr0ub4dor "$WORK/stderr" "$WORK/stdout" && fail "the password was printed"
echo "ok - … without printing it"
echo '{"outbox": "'"$out"'", "dbname": "dbname='"$db"' password=Db-s3cret"}' >"$WORK/dbpw.json"
chmod 644 "$WORK/dbpw.json"
expect_exit "a database password in a world-readable config" 2 medcrm-report daemon --once --config "$WORK/dbpw.json"
expect_stderr "… is refused with the mode" "$WORK/dbpw.json: holds a database password (in \"dbname\") but is accessible by group or others (mode 0644)"
grep -q Db-s3cret "$WORK/stderr" "$WORK/stdout" && fail "the database password was printed"
echo '{"outbox": "'"$out"'", "dbname": "postgresql://postgres:Db-s3cret@/'"$db"'"}' >"$WORK/dburi.json"
chmod 604 "$WORK/dburi.json"
expect_exit "… also as user:password@ in a URI" 2 medcrm-report daemon --once --config "$WORK/dburi.json"
expect_stderr "… with its mode" "$WORK/dburi.json: holds a database password (in \"dbname\") but is accessible by group or others (mode 0604)"
if [ "$(id -u)" -eq 0 ]; then
  chmod 600 "$WORK/dbpw.json"
  chown nobody "$WORK/dbpw.json"
  expect_exit "a config with a secret owned by another user" 2 medcrm-report daemon --once --config "$WORK/dbpw.json"
  expect_stderr "… is refused naming the owner" "$WORK/dbpw.json: holds a database password (in \"dbname\") but belongs to user $(id -u nobody), not to the daemon's user 0"
  chown 0 "$WORK/dbpw.json"
fi
cat >"$WORK/url.json" <<JSON
{"outbox": "$out", "smtp": {"url": "smtp://reports:Tr0ub4dor@127.0.0.1:25", "from": "reports@example.com"}}
JSON
expect_exit "credentials in the SMTP URL" 2 medcrm-report daemon --check --config "$WORK/url.json"
expect_stderr "… refused" "\"smtp.url\": expected smtp://HOST[:PORT] without user or password"
grep -q Tr0ub4dor "$WORK/stderr" "$WORK/stdout" && fail "the password in the URL was printed"
echo "ok - … without printing it"

# --check: everything fine
chmod 600 "$WORK/smtp.json"
expect_exit "--check of a good config" 0 medcrm-report daemon --check --config "$WORK/smtp.json"
expect_eq "--check reports each check" \
  "ok - outbox $out is a writable directory|ok - connected to database $db as postgres|ok - role postgres may claim report runs|ok - e-mail through smtp://127.0.0.1:25 with STARTTLS as reports@example.com, with login (password not shown)" \
  "$(grep -v '^ok - layout' "$WORK/stdout" | paste -sd'|')"
expect_eq "--check finds both layouts" 2 "$(grep -c '^ok - layout .*/\(kpi\|compliance\)\.json$' "$WORK/stdout")"
grep -q Tr0ub4dor "$WORK/stderr" "$WORK/stdout" && fail "--check printed the password"
echo "ok - --check never prints the password"

# --check: the database is unreachable, or the role may not claim runs
expect_exit "--check, database unreachable" 2 medcrm-report daemon --check --outbox "$out" -d "host=127.0.0.1 port=1 dbname=$db connect_timeout=2"
expect_stderr "… says so" "could not connect to the database"
q $db "DROP ROLE IF EXISTS daemon_nobody; CREATE ROLE daemon_nobody LOGIN" >/dev/null
expect_exit "--check, a role without medcrm_reporter" 2 medcrm-report daemon --check --outbox "$out" -d "dbname=$db user=daemon_nobody"
expect_stderr "… may not claim" "role daemon_nobody may not run the report queue (medcrm.report_claim)"
expect_stderr "… with the grant to give" "HINT: CREATE EXTENSION medcrm in this database and GRANT medcrm_reporter TO daemon_nobody."
echo '{"outbox": "'"$out"'", "time_rules_seconds": 3600}' >"$WORK/rules.json"
expect_exit "--check, time rules without the privilege" 2 medcrm-report daemon --check --config "$WORK/rules.json" -d "dbname=$db user=daemon_nobody"
expect_stderr "… names the setting" "\"time_rules_seconds\" is set but role daemon_nobody may not run medcrm.run_time_rules()"

# a login that is only a member of medcrm_reporter runs the queue
q $db "DROP ROLE IF EXISTS daemon_worker; CREATE ROLE daemon_worker LOGIN; GRANT medcrm_reporter TO daemon_worker" >/dev/null
expect_exit "--check as a medcrm_reporter login" 0 medcrm-report daemon --check --config "$WORK/rules.json" -d "dbname=$db user=daemon_worker"
run=$(q $db "SELECT medcrm.request_report('compliance', '2026-10-01', '2026-11-01')")
expect_exit "--once as a medcrm_reporter login" 0 medcrm-report daemon --once --config "$WORK/rules.json" -d "dbname=$db user=daemon_worker"
expect_eq "… runs the requested run" "ok|1|compliance-2026-10_run$run.xlsx" \
  "$(q $db "SELECT status || '|' || attempts || '|' || substr(file_path, length('$out/') + 1) FROM medcrm.report_run WHERE id = $run")"
expect_eq "… and the time rules once" 1 "$(grep -c 'event=time_rules tasks=' "$WORK/stderr")"
expect_eq "… one log line per event, each with its run id" \
  "run=- event=started|run=- event=connected|run=- event=time_rules|run=$run event=claimed|run=$run event=produced|run=$run event=ok|run=- event=stopped" \
  "$(sed -n 's/^[^ ]* medcrm-report\[[0-9]*\] \(run=[^ ]* event=[a-z_]*\).*/\1/p' "$WORK/stderr" | paste -sd'|')"

# a run that keeps failing: retried after 1 s, then 2 s, then failed for good
mkdir -p "$WORK/badlayouts"
echo '{"report": "kpi", "title": "Broken", "sheets": [{"name": "S", "sql": "SELECT 1 / 0 AS x"}]}' >"$WORK/badlayouts/kpi.json"
echo '{"outbox": "'"$out"'", "layouts": "'"$WORK/badlayouts"'", "retry_base_seconds": 1, "retry_max_seconds": 60}' >"$WORK/bad.json"
bad=$(q $db "SELECT medcrm.request_report('kpi', '2026-10-01', '2026-11-01')")
q $db "UPDATE medcrm.report_run SET max_attempts = 3 WHERE id = $bad" >/dev/null
for pass in 1 2 3; do
  rc=0
  medcrm-report daemon --once --config "$WORK/bad.json" 2>>"$WORK/bad.log" || rc=$?
  expect_eq "failing run, pass $pass: --once exits 1" 1 "$rc"
  [ $pass = 1 ] && sleep 1.2
  [ $pass = 2 ] && sleep 2.2
done
expect_eq "… retried after 1 s, then 2 s, then failed at attempt 3" \
  "run=$bad event=attempt_failed attempt=1 retry_in=1s|run=$bad event=attempt_failed attempt=2 retry_in=2s|run=$bad event=failed attempt=3 final=true" \
  "$(sed -n 's/.* \(run=[0-9]* event=\(attempt_failed\|failed\) attempt=[0-9]* [a-z_]*=[0-9a-z]*\).*/\1/p' "$WORK/bad.log" | paste -sd'|')"
expect_eq "… recorded: failed, 3 attempts, the division by zero, finished" "failed|3|1|1" \
  "$(q $db "SELECT status || '|' || attempts || '|' || (error LIKE '%division by zero%')::int || '|' || (finished_at IS NOT NULL)::int FROM medcrm.report_run WHERE id = $bad")"
expect_eq "… nothing in the outbox for it, staging empty" "compliance-2026-10_run$run.xlsx" "$(outbox_files "$out")"

# --once when the database is unreachable: three tries with backoff, then exit 1
expect_exit "--once, database unreachable" 1 medcrm-report daemon --once --outbox "$out" -d "host=127.0.0.1 port=1 dbname=$db connect_timeout=2"
expect_eq "… after three tries (0.5 s, 1 s between them)" "attempt=1 retry_in=0.5s|attempt=2 retry_in=1.0s|attempt=3 retry_in=2.0s" \
  "$(sed -n 's/.*event=db_unavailable \(attempt=[0-9]* retry_in=[0-9.]*s\).*/\1/p' "$WORK/stderr" | paste -sd'|')"
q $db "DROP OWNED BY daemon_nobody, daemon_worker; DROP ROLE daemon_nobody; DROP ROLE daemon_worker" >/dev/null
dropdb $db
