#!/usr/bin/env bash
# daemon_smtp.sh — e-mail delivery through a local relay on 127.0.0.1
# (test/worker/smtp_sink.py, Debian's python3-aiosmtpd) that requires
# STARTTLS (a certificate made here, verified through "ca_file") and a login.
# The relay refuses the first message (451): the delivery is recorded as
# pending with its error and retried after the backoff without producing the
# workbook again (run attempts, finished_at, SHA-256 and file unchanged).
# The second try arrives: envelope and To: name both recipients, the login
# and TLS were used, and the attachment's bytes equal the outbox file
# (SHA-256, also the one recorded). The password never appears in a log.
. "$(dirname "$0")/daemon_lib.bash"

db=medcrm_daemon_smtp
report_db $db
export PGDATABASE=$db
out=$WORK/outbox
mail=$WORK/mail
mkdir -p "$out" "$mail"
password='c0rrect-h0rse-battery'

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 2 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 || fail "openssl could not make a certificate"
$PY test/worker/smtp_sink.py "$mail" "$WORK/cert.pem" "$WORK/key.pem" reports "$password" --fail-first 1 \
  >"$WORK/sink.log" 2>&1 &
sink=$!
DAEMON_PIDS+=("$sink")
for _ in $(seq 1 100); do [ -f "$mail/port" ] && break; sleep 0.1; done
[ -f "$mail/port" ] || { cat "$WORK/sink.log"; fail "the SMTP sink did not start"; }
port=$(cat "$mail/port")
echo "ok - SMTP sink with STARTTLS and login on 127.0.0.1:$port"

cat >"$WORK/daemon.json" <<JSON
{"outbox": "$out", "lease_seconds": 30, "retry_base_seconds": 1, "retry_max_seconds": 4,
 "smtp": {"url": "smtp://127.0.0.1:$port", "starttls": true, "from": "reports@example.com",
          "username": "reports", "password": "$password", "ca_file": "$WORK/cert.pem",
          "timeout_seconds": 20}}
JSON
chmod 600 "$WORK/daemon.json"
q $db "DELETE FROM medcrm.report_run; DELETE FROM medcrm.report_schedule" >/dev/null
q $db "INSERT INTO medcrm.report_schedule (id, report, every, next_run_at, recipients)
       VALUES (1, 'compliance', '7 days', date_trunc('hour', now()) - interval '1 hour',
               '{anna.weber@example.com,ben.okafor@example.org}')" >/dev/null

# first pass: the run is produced, the relay refuses the e-mail
rc=0
medcrm-report daemon --once --config "$WORK/daemon.json" 2>"$WORK/once1.log" || rc=$?
expect_eq "--once exits 1 when a delivery failed" 1 "$rc"
run=$(q $db "SELECT id FROM medcrm.report_run WHERE schedule_id = 1")
expect_eq "the run is ok, its delivery pending after one refused attempt" "ok|1|pending|1|1" \
  "$(q $db "SELECT status || '|' || attempts || '|' || delivery_status || '|' || delivery_attempts || '|' || (delivery_error LIKE '%451%')::int FROM medcrm.report_run WHERE id = $run")"
grep -q "run=$run event=delivery_attempt_failed attempt=1 retry_in=1s" "$WORK/once1.log" || { cat "$WORK/once1.log"; fail "the refused delivery was not logged"; }
echo "ok - the refused delivery is logged with its backoff"
expect_eq "the relay refused exactly one message" 1 "$(wc -l <"$mail/refused")"
before=$(q $db "SELECT finished_at || '|' || file_sha256 || '|' || file_path FROM medcrm.report_run WHERE id = $run")
file=$(q $db "SELECT file_path FROM medcrm.report_run WHERE id = $run")
mtime=$(stat -c %Y.%i "$file")

# second pass after the backoff: delivered, nothing produced again
sleep 1.2
medcrm-report daemon --once --config "$WORK/daemon.json" 2>"$WORK/once2.log" || { cat "$WORK/once2.log"; fail "second pass"; }
expect_eq "delivered at the second attempt" "ok|1|sent|2|1" \
  "$(q $db "SELECT status || '|' || attempts || '|' || delivery_status || '|' || delivery_attempts || '|' || (delivered_at IS NOT NULL)::int FROM medcrm.report_run WHERE id = $run")"
expect_eq "the workbook was not produced again" "$before" \
  "$(q $db "SELECT finished_at || '|' || file_sha256 || '|' || file_path FROM medcrm.report_run WHERE id = $run")"
expect_eq "… the outbox file is the same file, untouched" "$mtime" "$(stat -c %Y.%i "$file")"
expect_eq "… and no run was claimed in the second pass" 0 "$(grep -c 'event=claimed' "$WORK/once2.log")"
expect_eq "one message arrived" "2.eml 2.json" "$(cd "$mail" && ls ./*.eml ./*.json | sed 's|^\./||' | paste -sd' ')"

sha=$(q $db "SELECT file_sha256 FROM medcrm.report_run WHERE id = $run")
expect_eq "the outbox file has the recorded SHA-256" "$sha" "$(sha256sum <"$file" | cut -d' ' -f1)"
$PY - "$mail/2.eml" "$mail/2.json" "$sha" "$run" "$(hostname)" "$mail/1.refused" <<'PY' || fail "the message"
import email, email.policy, hashlib, json, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
env = json.load(open(sys.argv[2]))
sha, run, host = sys.argv[3], sys.argv[4], sys.argv[5]
refused = email.message_from_binary_file(open(sys.argv[6], "rb"), policy=email.policy.default)
def check(what, want, got):
    if want != got:
        print(f"FAIL: {what}: expected {want!r}, got {got!r}"); sys.exit(1)
    print(f"ok - {what}")
check("Message-ID: stable per run (run id, SHA-256 prefix, host)", f"<medcrm-report.run{run}.{sha[:16]}@{host}>",
      str(msg["Message-ID"]))
check("… the refused first attempt had the same Message-ID", str(msg["Message-ID"]), str(refused["Message-ID"]))
check("envelope sender", "reports@example.com", env["mail_from"])
check("envelope recipients", ["anna.weber@example.com", "ben.okafor@example.org"], env["rcpt_tos"])
check("sent after STARTTLS", True, env["tls"])
check("sent after login", "reports", env["login"])
check("To: names both recipients", ["anna.weber@example.com", "ben.okafor@example.org"],
      [a.addr_spec for a in msg["To"].addresses])
check("From:", ("medcrm reports", "reports@example.com"),
      (msg["From"].addresses[0].display_name, msg["From"].addresses[0].addr_spec))
check("Subject: names report and period", True, str(msg["Subject"]).startswith("medcrm compliance report "))
atts = [p for p in msg.iter_attachments()]
check("one attachment", 1, len(atts))
a = atts[0]
check("attachment type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", a.get_content_type())
check("attachment name has no run id", True, a.get_filename().startswith("compliance-") and "_run" not in a.get_filename())
data = a.get_payload(decode=True)
check("the attachment's bytes equal the outbox file (SHA-256)", sha, hashlib.sha256(data).hexdigest())
body = msg.get_body(preferencelist=("plain",)).get_content()
check("the text names run and checksum", True, f"Run {run}, SHA-256 {sha}." in body)
PY
grep -q "run=$run event=delivered attempt=2 recipients=2" "$WORK/once2.log" || { cat "$WORK/once2.log"; fail "no delivered line"; }
echo "ok - the delivery is logged"
grep -q -- "$password" "$WORK"/*.log && fail "the SMTP password appears in a log"
echo "ok - the password appears in no log"

# the database names a file outside the outbox: not read, not sent
echo "not a workbook: a file that must not leave this host" >"$WORK/secret.txt"
secret_sha=$(sha256sum <"$WORK/secret.txt" | cut -d' ' -f1)
q $db "UPDATE medcrm.report_run SET delivery_status = 'pending', next_delivery_at = now(), delivered_at = NULL,
         file_path = '$out/../secret.txt', file_sha256 = '$secret_sha' WHERE id = $run" >/dev/null
rc=0
medcrm-report daemon --once --config "$WORK/daemon.json" 2>"$WORK/outside1.log" || rc=$?
expect_eq "a file_path outside the outbox (OUTBOX/../x): --once exits 1" 1 "$rc"
expect_eq "… nothing was sent" "2.eml 2.json" "$(cd "$mail" && ls ./*.eml ./*.json | sed 's|^\./||' | paste -sd' ')"
expect_eq "… the delivery attempt failed with the reason" \
  "pending|the workbook '$out/../secret.txt' is outside the outbox '$(realpath "$out")' (it resolves to '$(realpath "$WORK/secret.txt")'); it is not sent" \
  "$(q $db "SELECT delivery_status || '|' || delivery_error FROM medcrm.report_run WHERE id = $run")"
ln -s "$WORK/secret.txt" "$out/link.xlsx"
q $db "UPDATE medcrm.report_run SET next_delivery_at = now(), file_path = '$out/link.xlsx', file_sha256 = '$sha' WHERE id = $run" >/dev/null
rc=0
medcrm-report daemon --once --config "$WORK/daemon.json" 2>"$WORK/outside2.log" || rc=$?
expect_eq "a symbolic link in the outbox to a file outside: --once exits 1" 1 "$rc"
expect_eq "… nothing was sent" "2.eml 2.json" "$(cd "$mail" && ls ./*.eml ./*.json | sed 's|^\./||' | paste -sd' ')"
expect_eq "… refused as outside the outbox, without the file's SHA-256 in the error" "1|0" \
  "$(q $db "SELECT (delivery_error LIKE '%link.xlsx'' is outside the outbox%')::int || '|' || (delivery_error LIKE '%$secret_sha%')::int FROM medcrm.report_run WHERE id = $run")"
grep -q -- "$secret_sha" "$WORK/outside2.log" && fail "the outside file's SHA-256 was logged"
echo "ok - … nor in the log"
rm "$out/link.xlsx"
q $db "UPDATE medcrm.report_run SET delivery_status = 'failed', next_delivery_at = NULL WHERE id = $run" >/dev/null

# a wrong password: the relay refuses the login; recorded, retried later
run2=$(q $db "SELECT medcrm.request_report('compliance', '2026-10-01', '2026-11-01')")
q $db "UPDATE medcrm.report_run SET recipients = '{qa@example.com}' WHERE id = $run2" >/dev/null
sed "s/$password/wrong-password/" "$WORK/daemon.json" >"$WORK/wrong.json"
chmod 600 "$WORK/wrong.json"
rc=0
medcrm-report daemon --once --config "$WORK/wrong.json" 2>"$WORK/once3.log" || rc=$?
expect_eq "a refused login: --once exits 1" 1 "$rc"
expect_eq "… the run ok, its delivery pending with the relay's answer" "ok|pending|1|1" \
  "$(q $db "SELECT status || '|' || delivery_status || '|' || delivery_attempts || '|' || (delivery_error ~ 'Login denied|535')::int FROM medcrm.report_run WHERE id = $run2")"
grep -q -- "wrong-password" "$WORK/once3.log" && fail "the wrong password appears in the log"
echo "ok - … without the password in the log"

# the relay takes the e-mail but the delivery is no longer ours when it is
# recorded (a test-only trigger makes report_delivered() find no row, as
# after a takeover): logged as delivery_lease_lost, not as delivered
q $db "CREATE FUNCTION public.lose_delivery() RETURNS trigger LANGUAGE plpgsql AS
       \$\$BEGIN RETURN NULL; END\$\$;
       CREATE TRIGGER lose_delivery BEFORE UPDATE ON medcrm.report_run FOR EACH ROW
       WHEN (NEW.delivery_status = 'sent') EXECUTE FUNCTION public.lose_delivery()" >/dev/null
sleep 1.2
rc=0
medcrm-report daemon --once --config "$WORK/daemon.json" 2>"$WORK/once4.log" || rc=$?
expect_eq "a lost delivery lease after sending: --once exits 0 (the relay took it)" 0 "$rc"
grep -qE "run=$run2 event=delivery_lease_lost attempt=2 recipients=1 message_id=<medcrm-report\.run$run2\.[0-9a-f]{16}@" "$WORK/once4.log" \
  || { cat "$WORK/once4.log"; fail "no delivery_lease_lost line"; }
echo "ok - … logged as delivery_lease_lost with its Message-ID"
expect_eq "… and not as delivered" 0 "$(grep -c "run=$run2 event=delivered" "$WORK/once4.log")"
q $db "DROP TRIGGER lose_delivery ON medcrm.report_run; DROP FUNCTION public.lose_delivery()" >/dev/null
kill "$sink"; wait "$sink" 2>/dev/null || true
dropdb $db
