#!/usr/bin/env bash
# bench/live.sh: what live updates cost (issue 14; bench/README.md).
#
#   bench/live.sh   build the release api and the load client (api/examples/live_load.rs);
#                   on a fresh database with one public video and USERS users:
#   1. idle streams: one api node; STREAMS (default 10,000) live streams opened and left idle;
#      the api's resident memory growth per stream (goal < 8 KiB), how many of them it writes
#      outside hyper (svc::server::takeover; all of them here) and its CPU time over IDLE
#      seconds (default 30; goal ~0; the heartbeat comment goes out every LIVE_HEARTBEAT).
#      Beside it, on another fresh node, the same number of idle keep-alive connections that
#      made one plain request: what any connection costs the server loop, stream or not; and the
#      same streams opened through web (`/api/videos/{vid}/live`, as a browser opens them): web's
#      memory growth per stream and CPU while idle, with the api's growth behind it;
#   2. fan-out: two api nodes on the same database; VIEWERS (default 2,000) streams split
#      between them; one danmaku every EVERY_MS (100) for FANOUT_SECONDS (30), posted through the
#      nodes in turn: the delivery latency from the post to each viewer (p50, p99; goal p99 <
#      1.5 s), deliveries lost, and the statements per second the two nodes ran on the database
#      posting with no viewers, with the viewers idle, and posting to them. The nodes connect as
#      a database user of their own and MariaDB counts its statements (`userstat`, switched on
#      here and left on), so other clients of the same server do not count.
#
# Environment: CARGO_TARGET_DIR (default target/), STREAMS, IDLE, VIEWERS, EVERY_MS, FANOUT_SECONDS,
# USERS (30: a user may send one danmaku every 2 s, so 10 a second need 20 or more),
# LIVE_POLL_INTERVAL (the api's default, 250ms). Short runs for a smoke check:
# STREAMS=500 IDLE=3 VIEWERS=100 FANOUT_SECONDS=3 bench/live.sh. The open-file limit is raised to the
# hard limit (each stream is a socket in the api and another in the client). It creates a
# throw-away database through var/mariadb/admin_url and drops it, and stops only the processes
# it started.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

STREAMS=${STREAMS:-10000}
IDLE=${IDLE:-30}
VIEWERS=${VIEWERS:-2000}
EVERY_MS=${EVERY_MS:-100}
FANOUT_SECONDS=${FANOUT_SECONDS:-30}
USERS=${USERS:-30}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}

for tool in curl mariadb python3; do
  command -v "$tool" >/dev/null || { echo "bench/live.sh: $tool is required" >&2; exit 1; }
done
need=$((STREAMS + 1000))
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
  echo "bench/live.sh: $STREAMS streams need about $need open files; the hard limit is $(ulimit -Hn)" >&2
  exit 1
fi

echo "== building api and the load client (release)"
cargo build --release -q -p api --bin api --example live_load -p web --bin web
API=$CARGO_TARGET_DIR/release/api
WEB=$CARGO_TARGET_DIR/release/web
LOAD=$CARGO_TARGET_DIR/release/examples/live_load

bench_admin
sql() { admin_sql -N "$@"; }
DB=live_bench_$$
DB_USER_=live_bench_$$
LOGS=$(mktemp -d)
PIDS=()
stop_all() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
cleanup() {
  stop_all
  sql -e "DROP DATABASE IF EXISTS \`$DB\`" || true
  sql -e "DROP USER IF EXISTS '$DB_USER_'@'127.0.0.1'" || true
  rm -rf "$LOGS"
}
trap cleanup EXIT
sql -e "CREATE DATABASE \`$DB\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
sql -e "CREATE USER '$DB_USER_'@'127.0.0.1' IDENTIFIED BY 'bench'; GRANT ALL ON \`$DB\`.* TO '$DB_USER_'@'127.0.0.1'; SET GLOBAL userstat = 1"
API_DB_URL=mysql://$DB_USER_:bench@$DB_HOST:$DB_PORT/$DB

# Starts an api node on a free port; sets PORT and PID.
start_api() {
  PORT=$(free_port)
  DATABASE_URL=$API_DB_URL API_ADDR=127.0.0.1:$PORT RUST_LOG=warn DRAIN_TIMEOUT=5s \
    READ_RATE_PER_MINUTE=0 AUTH_RATE_PER_MIN=100000 AUTH_BURST=100000 \
    "$API" >>"$LOGS/api-$PORT.log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 300); do
    curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$PID" 2>/dev/null || { cat "$LOGS/api-$PORT.log" >&2; exit 1; }
    sleep 0.05
  done
  echo "the api never became ready" >&2; cat "$LOGS/api-$PORT.log" >&2; exit 1
}

start_api
A=$PORT
echo "== one public video and $USERS users"
owner=$(curl -fs -H 'content-type: application/json' -d '{"user_name":"owner","pwd":"bench-password"}' \
  "http://127.0.0.1:$A/user" | python3 -c 'import json,sys; print(json.load(sys.stdin)["session_id"])')
VID=$(curl -fs -H 'content-type: application/json' -H "X-Session-Id: $owner" -d '{"name":"Live bench"}' \
  "http://127.0.0.1:$A/user/owner/videos" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
sql "$DB" -e "UPDATE video_info SET state = 'ready', duration_ms = 600000, size = 1, content_type = 'video/mp4' WHERE id = '$VID'"
SESSIONS=""
for i in $(seq "$USERS"); do
  s=$(curl -fs -H 'content-type: application/json' -d "{\"user_name\":\"viewer$i\",\"pwd\":\"bench-password\"}" \
    "http://127.0.0.1:$A/user" | python3 -c 'import json,sys; print(json.load(sys.stdin)["session_id"])')
  SESSIONS="$SESSIONS${SESSIONS:+,}$s"
done

# Each measure of memory on a fresh process: memory freed by an earlier run would be reused.
echo "== 1. $STREAMS idle streams on one api node"
stop_all
start_api
"$LOAD" connections --node "127.0.0.1:$PORT" --pid "$PID" --streams "$STREAMS"
stop_all
start_api
"$LOAD" idle --node "127.0.0.1:$PORT" --pid "$PID" --vid "$VID" --streams "$STREAMS" --idle "$IDLE"

# web holds two sockets a stream (the browser's and its own to the api): as many as the
# open-file limit allows.
WEB_STREAMS=$STREAMS
if [ "$(ulimit -n)" != unlimited ] && [ $((2 * STREAMS + 1000)) -gt "$(ulimit -n)" ]; then
  WEB_STREAMS=$(( ($(ulimit -n) - 1000) / 2 ))
fi
echo "== 1b. $WEB_STREAMS idle streams through web"
stop_all
start_api
API_PID=$PID
WEB_PORT=$(free_port)
WEB_ADDR=127.0.0.1:$WEB_PORT API_URL=http://127.0.0.1:$PORT STREAM_URL=http://127.0.0.1:$(free_port) \
  RUST_LOG=warn "$WEB" >>"$LOGS/web.log" 2>&1 &
WEB_PID=$!
PIDS+=("$WEB_PID")
for _ in $(seq 300); do
  curl -fs "http://127.0.0.1:$WEB_PORT/healthz" >/dev/null 2>&1 && break
  kill -0 "$WEB_PID" 2>/dev/null || { cat "$LOGS/web.log" >&2; exit 1; }
  sleep 0.05
done
"$LOAD" idle --node "127.0.0.1:$WEB_PORT" --pid "$API_PID" --web "$WEB_PID" --vid "$VID" \
  --streams "$WEB_STREAMS" --idle "$IDLE"

echo "== 2. fan-out: $VIEWERS viewers over two nodes, one danmaku every ${EVERY_MS} ms for ${FANOUT_SECONDS} s"
stop_all
start_api
A=$PORT
start_api
B=$PORT
"$LOAD" fanout --nodes "127.0.0.1:$A,127.0.0.1:$B" --vid "$VID" --sessions "$SESSIONS" \
  --viewers "$VIEWERS" --every-ms "$EVERY_MS" --seconds "$FANOUT_SECONDS" --admin "$ADMIN" --db-user "$DB_USER_"
