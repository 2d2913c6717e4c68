#!/usr/bin/env bash
# bench/api.sh: requests/s, p99 latency and RSS of the api on its two hottest read routes,
# with a valid session, against the project-local MariaDB (SPEC section 8; bench/README.md).
#
#   bench/api.sh            build release, seed a user with 50 videos and 50 comments, then
#                           wrk -c64 for DURATION (default 10s) on
#                             GET /user/{name}/videos    (X-Session-Id)
#                             GET /videos/{vid}/comments (X-Session-Id)
#                           and GET /user/{name} (the route the Go figure is for),
#                           and print req/s, p99, api RSS and the ratio to the Go original's
#                           2,700 req/s (its session-checked GET /user/{name}, same kind of machine).
#
# Environment: CARGO_TARGET_DIR (default /work/targets/api if it exists, else target/),
# DURATION (10s), CONNECTIONS (64), THREADS (2). The run stays under a minute. It creates a
# throw-away database through var/mariadb/admin_url and drops it, and stops only the api it started.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
GO_BASELINE=2700
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  if [ -d /work/targets/api ]; then export CARGO_TARGET_DIR=/work/targets/api; else export CARGO_TARGET_DIR=$PWD/target; fi
fi

for tool in wrk curl jq mariadb; do
  command -v "$tool" >/dev/null || { echo "bench/api.sh: $tool is required" >&2; exit 1; }
done

echo "== building api (release)"
cargo build --release -q -p api
BIN=$CARGO_TARGET_DIR/release/api

bench_admin
sql() { admin_sql -N -e "$1"; }

DB=api_bench_$$
PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
LOG=$(mktemp)
API_PID=""
cleanup() {
  [ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null || true
  sql "DROP DATABASE IF EXISTS \`$DB\`" || true
  rm -f "$LOG"
}
trap cleanup EXIT
sql "CREATE DATABASE \`$DB\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"

DATABASE_URL=$ADMIN/$DB API_ADDR=127.0.0.1:$PORT RUST_LOG=warn \
  AUTH_RATE_PER_MIN=100000 AUTH_BURST=100000 "$BIN" >"$LOG" 2>&1 &
API_PID=$!
for _ in $(seq 100); do
  curl -fs "$BASE/readyz" >/dev/null 2>&1 && break
  kill -0 "$API_PID" 2>/dev/null || { cat "$LOG" >&2; exit 1; }
  sleep 0.1
done
IDLE_RSS=$(awk '/VmRSS/ {print $2}' /proc/$API_PID/status)

echo "== seeding: user bench, 50 videos, 50 comments"
NAME=bench
SID=$(curl -fs -X POST "$BASE/user" -H 'content-type: application/json' \
  -d "{\"user_name\":\"$NAME\",\"pwd\":\"bench-password\"}" | jq -r .session_id)
VID=""
for i in $(seq 50); do
  id=$(curl -fs -X POST "$BASE/user/$NAME/videos" -H "X-Session-Id: $SID" \
    -H 'content-type: application/json' -d "{\"name\":\"video $i\"}" | jq -r .id)
  VID=${VID:-$id}
done
sql "UPDATE \`$DB\`.video_info SET state = 'ready', size = 1048576, content_type = 'video/mp4',
     duration_ms = 10000, width = 1280, height = 720, has_thumbnail = TRUE"
for i in $(seq 50); do
  curl -fs -X POST "$BASE/videos/$VID/comments" -H "X-Session-Id: $SID" \
    -H 'content-type: application/json' -d "{\"content\":\"comment $i\"}" >/dev/null
done

run() {
  local label=$1 path=$2 out rps p99 non2xx
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "X-Session-Id: $SID" "$BASE$path")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  printf '%-34s %10s req/s   p99 %8s   %5.2fx the Go original (%s req/s)%s\n' \
    "$label" "$rps" "$p99" "$(echo "$rps / $GO_BASELINE" | bc -l)" "$GO_BASELINE" \
    "${non2xx:+   NON-2XX: $non2xx}"
}

echo "== wrk -t$THREADS -c$CONNECTIONS -d$DURATION (lists: pages of 20)"
run "GET /user/{name} (Go's route)" "/user/$NAME"
run "GET /user/{name}/videos" "/user/$NAME/videos"
run "GET /videos/{vid}/comments" "/videos/$VID/comments"
RSS=$(awk '/VmRSS/ {print $2}' /proc/$API_PID/status)
HWM=$(awk '/VmHWM/ {print $2}' /proc/$API_PID/status)
echo "api RSS: idle $((IDLE_RSS / 1024)) MiB, after load $((RSS / 1024)) MiB, peak $((HWM / 1024)) MiB"
