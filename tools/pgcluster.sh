#!/usr/bin/env bash
# pgcluster.sh — a throwaway PostgreSQL cluster for medcrm's tests, demo and benchmarks.
#
#   tools/pgcluster.sh start DIR   initdb DIR/data with the server of ./tmp_install,
#                                  start it on a free port, write DIR/env
#   tools/pgcluster.sh stop DIR    stop it (the caller removes DIR when done)
#
# DIR/env exports PGHOST, PGPORT, PGUSER and PGDATABASE for psql and friends.
# initdb refuses to run as root, so as root the cluster is owned by the
# "postgres" system user; clients still connect as the database superuser
# "postgres". The server listens on 127.0.0.1 and on a socket in DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_CONFIG=${PG_CONFIG:-pg_config}
# The server of ./tmp_install. Inside a cluster's environment PATH already leads
# to the relocated pg_config, whose bindir is the tmp_install one itself.
bindir=$($PG_CONFIG --bindir)
case "$bindir" in
  "$PWD"/tmp_install/*) PGBIN=${MEDCRM_PGBIN:-$bindir} ;;
  *) PGBIN=${MEDCRM_PGBIN:-$PWD/tmp_install$bindir} ;;
esac
action=${1:?usage: pgcluster.sh start|stop DIR}
dir=${2:?usage: pgcluster.sh start|stop DIR}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  local port
  for port in $(seq 54320 54999); do
    if ! (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && [ ! -e "/tmp/.s.PGSQL.$port.lock" ]; then
      echo "$port"; return 0
    fi
  done
  echo "pgcluster.sh: no free port in 54320-54999" >&2; return 1
}

case "$action" in
start)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
  as_owner "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
    --no-instructions >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  cat >>"$dir/data/postgresql.conf" <<CONF
# settings of a throwaway test cluster: durability traded for speed
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 512MB
work_mem = 64MB
maintenance_work_mem = 512MB
max_wal_size = 8GB
max_prepared_transactions = 10
max_connections = 100
log_min_messages = warning
timezone = 'UTC'
CONF
  port=$(free_port)
  as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  cat >"$dir/env" <<ENV
export PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres
export PATH=$PGBIN:\$PATH
ENV
  ;;
stop)
  if [ -d "$dir/data" ] && ! as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1; then
    # Last resort, so that no server outlives its directory.
    pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)
    [ -n "$pid" ] && kill -QUIT "$pid" 2>/dev/null || true
  fi
  ;;
*)
  echo "usage: pgcluster.sh start|stop DIR" >&2; exit 2 ;;
esac
