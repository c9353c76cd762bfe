# daemon_lib.bash — helpers of the report daemon's tests (sourced, not run).
# shellcheck disable=SC1091
. "$(dirname "${BASH_SOURCE[0]}")/report_lib.bash"

DAEMON_PIDS=()

# daemon_setup DB SETTINGS: the report database DB (PGDATABASE) with an empty
# queue, the outbox $out, and $WORK/daemon.json naming that outbox with the
# other SETTINGS (JSON members, e.g. '"lease_seconds": 30')
daemon_setup() {
  report_db "$1"
  export PGDATABASE=$1
  out=$WORK/outbox
  mkdir -p "$out"
  printf '{"outbox": "%s", %s}\n' "$out" "$2" >"$WORK/daemon.json"
  q "$1" "DELETE FROM medcrm.report_run; DELETE FROM medcrm.report_schedule" >/dev/null
}
daemon_cleanup() {
  local p
  for p in "${DAEMON_PIDS[@]}"; do kill -9 "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap daemon_cleanup EXIT

# start_daemon NAME ARGS...: medcrm-report daemon in the background, stderr
# into $WORK/NAME.log; its pid in $WORK/NAME.pid and in $LAST_PID
start_daemon() {
  local name=$1
  shift
  medcrm-report daemon "$@" 2>"$WORK/$name.log" &
  LAST_PID=$!
  DAEMON_PIDS+=("$LAST_PID")
  echo "$LAST_PID" >"$WORK/$name.pid"
}

# wait_sql WHAT SECONDS DB SQL: wait until SQL returns t
wait_sql() {
  local what=$1 secs=$2 db=$3 sql=$4 i
  for i in $(seq 1 $((secs * 10))); do
    [ "$(q "$db" "$sql")" = t ] && return 0
    sleep 0.1
  done
  for f in "$WORK"/*.log; do echo "--- $f"; cat "$f"; done >&2
  fail "$what: not within $secs s"
}

# wait_log WHAT SECONDS FILE PATTERN: wait until FILE has a line matching PATTERN (ERE)
wait_log() {
  local what=$1 secs=$2 file=$3 pat=$4 i
  for i in $(seq 1 $((secs * 10))); do
    grep -qE -- "$pat" "$file" 2>/dev/null && return 0
    sleep 0.1
  done
  cat "$file" >&2
  fail "$what: no \"$pat\" in $(basename "$file") within $secs s"
}

# stop_daemon WHAT PID: SIGTERM, then it must exit 0 within 10 s
stop_daemon() {
  local what=$1 pid=$2 rc=0 i
  kill -TERM "$pid"
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && fail "$what: still running 10 s after SIGTERM"
  wait "$pid" || rc=$?
  expect_eq "$what: exits 0 on SIGTERM" 0 "$rc"
}

# pg_restart: restart the test cluster's server (same port and socket)
pg_restart() {
  local pgctl
  pgctl="$(dirname "$(command -v psql)")/pg_ctl"
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$pgctl" -D "$MEDCRM_CLUSTER/data" -l "$MEDCRM_CLUSTER/server.log" -m fast -w restart >/dev/null
  else
    "$pgctl" -D "$MEDCRM_CLUSTER/data" -l "$MEDCRM_CLUSTER/server.log" -m fast -w restart >/dev/null
  fi
}

# outbox_files DIR: the names of the files in DIR and its staging directory, sorted
outbox_files() {
  (cd "$1" && find . -type f | sed 's|^\./||' | sort | tr '\n' ' ' | sed 's/ $//')
}
