#!/usr/bin/env bash
# bench/front-page.sh: the pages a visitor opens first, through web at 64 connections (issue 10;
# bench/README.md): the signed-out front page `/`, beside the same page signed in and the
# signed-in studio `/studio` (what the signed-in home page was), each with requests/s and p99,
# and web's RSS idle and after the runs.
#
#   bench/front-page.sh   build release api and web, seed NVIDEOS (200) public ready videos, then
#                         wrk -c64 for DURATION (10s) on each page and print the ratios to the
#                         signed-out front page.
#
# Environment: CARGO_TARGET_DIR (default target/), NVIDEOS (200), DURATION (10s),
# CONNECTIONS (64), THREADS (2). It creates a throw-away database through var/mariadb/admin_url
# and drops it, and stops only the processes it started. No streamserver runs: pages only link to
# thumbnails, and the browser's fetches of them are not part of this measure.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

NVIDEOS=${NVIDEOS:-200}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}

for tool in wrk curl jq mariadb; do
  command -v "$tool" >/dev/null || { echo "bench/front-page.sh: $tool is required" >&2; exit 1; }
done

echo "== building api and web (release)"
cargo build --release -q -p api -p web
TARGET=${CARGO_TARGET_DIR:-$PWD/target}/release

bench_admin
sql() { admin_sql -N -e "$1"; }

DB=front_bench_$$
API_PORT=$(free_port)
WEB_PORT=$(free_port)
API=http://127.0.0.1:$API_PORT
WEB=http://127.0.0.1:$WEB_PORT
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  sql "DROP DATABASE IF EXISTS \`$DB\`" || true
  rm -rf "$WORK"
}
trap cleanup EXIT
sql "CREATE DATABASE \`$DB\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"

# wait_ready URL PID LOG: polls URL/readyz until 200, failing if the process dies first.
wait_ready() {
  for _ in $(seq 100); do
    curl -fs "$1/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; exit 1; }
    sleep 0.1
  done
  echo "bench/front-page.sh: $1 never became ready" >&2
  exit 1
}

DATABASE_URL=$ADMIN/$DB API_ADDR=127.0.0.1:$API_PORT RUST_LOG=warn \
  AUTH_RATE_PER_MIN=100000 AUTH_BURST=100000 READ_RATE_PER_MINUTE=0 SEARCH_RATE_PER_MINUTE=0 \
  "$TARGET/api" >"$WORK/api.log" 2>&1 &
PIDS+=($!)
wait_ready "$API" "${PIDS[-1]}" "$WORK/api.log"
WEB_ADDR=127.0.0.1:$WEB_PORT API_URL=$API RUST_LOG=warn \
  "$TARGET/web" >"$WORK/web.log" 2>&1 &
WEB_PID=$!
PIDS+=("$WEB_PID")
wait_ready "$WEB" "$WEB_PID" "$WORK/web.log"
IDLE_RSS=$(rss_kib "$WEB_PID")

echo "== seeding: user bench, $NVIDEOS public ready videos"
NAME=bench
SID=$(curl -fs -X POST "$API/user" -H 'content-type: application/json' \
  -d "{\"user_name\":\"$NAME\",\"pwd\":\"bench-password\"}" | jq -r .session_id)
for i in $(seq "$NVIDEOS"); do
  curl -fs -X POST "$API/user/$NAME/videos" -H "X-Session-Id: $SID" \
    -H 'content-type: application/json' -d "{\"name\":\"video $i\",\"visibility\":\"public\"}" >/dev/null
done
sql "UPDATE \`$DB\`.video_info SET state = 'ready', size = 1048576, content_type = 'video/mp4',
     duration_ms = 10000, width = 1280, height = 720, has_thumbnail = TRUE"
# The pages must really be the pages: a card on the front page, the studio for the signed-in user.
curl -fs "$WEB/" | grep -q "video $NVIDEOS" || { echo "bench/front-page.sh: no card on /" >&2; exit 1; }
curl -fs -H "Cookie: session=$SID" "$WEB/studio" | grep -q "video $NVIDEOS" ||
  { echo "bench/front-page.sh: /studio does not list the videos" >&2; exit 1; }

run() {
  local label=$1 out rps p99 non2xx
  shift
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H 'Accept: text/html' "$@")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  echo "$rps" >"$WORK/$label.rps"
  printf '%-26s %10s req/s   p99 %8s   %5.2fx signed-out /%s\n' "$label" "$rps" "$p99" \
    "$(echo "$rps / $(cat "$WORK/front.rps")" | bc -l)" "${non2xx:+   NON-2XX: $non2xx}"
}

echo "== wrk -t$THREADS -c$CONNECTIONS -d$DURATION through web"
run front "$WEB/"
run "front (signed in)" -H "Cookie: session=$SID" "$WEB/"
run "studio (signed in)" -H "Cookie: session=$SID" "$WEB/studio"
echo "web RSS: idle $((IDLE_RSS / 1024)) MiB, after the runs $(($(rss_kib "$WEB_PID") / 1024)) MiB"
