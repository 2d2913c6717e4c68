#!/usr/bin/env bash
# What web's reverse proxy costs: random 1 MiB ranges of a 64 MiB video and a 4 KiB video at 64
# connections, straight from the streamserver and through web, printed as req/s and the ratio;
# web's idle RSS; web's RSS rise while a 1 GiB upload streams through it.
#
#   bench/web-proxy.sh                      release build, every figure
#   BENCH_DURATION=5s bench/web-proxy.sh    length of each wrk run (default 5s)
#
# Needs: the dev MariaDB (scripts/devdb start), wrk, curl, python3, mariadb client.
# Everything listens on 127.0.0.1; everything it starts it stops.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
DURATION=${BENCH_DURATION:-5s}
CONNS=64

cargo build --release -q -p streamserver -p web
SS_BIN=$CARGO_TARGET_DIR/release/streamserver
WEB_BIN=$CARGO_TARGET_DIR/release/web

WORK=$(mktemp -d /tmp/web-bench.XXXXXX)
PIDS=()
DB=bench_web_$(date +%s)_$$
bench_admin
sql() { admin_sql "$@"; }

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  sql -e "DROP DATABASE IF EXISTS $DB" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_ready() {
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$1/readyz" > /dev/null && return 0
    sleep 0.1
  done
  echo "$2 did not start:" >&2; cat "$WORK/$2.log" >&2; exit 1
}

# --- data: a migrated throwaway database, one user, two playable videos, one pending ----------
sql -e "CREATE DATABASE $DB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
for f in svc/migrations/*.sql; do sql "$DB" < "$f"; done
STORE=$WORK/storage
mkdir -p "$STORE/videos"
BIG=11111111-1111-4111-8111-111111111111
SMALL=22222222-2222-4222-8222-222222222222
PENDING=33333333-3333-4333-8333-333333333333
SID=44444444-4444-4444-8444-444444444444
head -c $((64 << 20)) /dev/urandom > "$STORE/videos/$BIG"
head -c 4096 /dev/urandom > "$STORE/videos/$SMALL"
sql "$DB" <<SQL
INSERT INTO users (id, login_name, pwd_hash) VALUES (1, 'bench', 'x');
INSERT INTO sessions (session_id, user_id, expires_at) VALUES ('$SID', 1, UTC_TIMESTAMP() + INTERVAL 1 DAY);
INSERT INTO video_info (id, author_id, name, display_ctime, state, size, content_type, sha256, uploaded_at) VALUES
 ('$BIG', 1, 'big', 'x', 'ready', $((64 << 20)), 'video/mp4', '$(sha256sum "$STORE/videos/$BIG" | cut -c1-64)', UTC_TIMESTAMP(6)),
 ('$SMALL', 1, 'small', 'x', 'ready', 4096, 'video/mp4', '$(sha256sum "$STORE/videos/$SMALL" | cut -c1-64)', UTC_TIMESTAMP(6)),
 ('$PENDING', 1, 'upload', 'x', 'pending', NULL, NULL, NULL, NULL);
SQL
DBURL="$ADMIN/$DB"

# --- the two servers --------------------------------------------------------------------------
SS_PORT=$(free_port)
DATABASE_URL=$DBURL STREAM_ADDR=127.0.0.1:$SS_PORT STORAGE_DIR=$STORE \
  RATE_LIMIT_PER_SECOND=1000000 RATE_LIMIT_BURST=1000000 MAX_STREAMS=100000 \
  MAX_STREAMS_PER_IP=100000 RUST_LOG=warn "$SS_BIN" > "$WORK/streamserver.log" 2>&1 &
SS_PID=$!; PIDS+=("$SS_PID")
wait_ready "$SS_PORT" streamserver
WEB_PORT=$(free_port)
WEB_ADDR=127.0.0.1:$WEB_PORT STREAM_URL=http://127.0.0.1:$SS_PORT API_URL=http://127.0.0.1:1 \
  RUST_LOG=warn "$WEB_BIN" > "$WORK/web.log" 2>&1 &
WEB_PID=$!; PIDS+=("$WEB_PID")
wait_ready "$WEB_PORT" web
sleep 0.5
IDLE=$(rss_kib "$WEB_PID")

write_wrk_scripts "$WORK"

# Prints "req/s errors" for a wrk run against URL with SCRIPT.
measure() {
  local out
  out=$(wrk -t2 -c$CONNS -d"$DURATION" -s "$2" "$1")
  read -r _ reqs _ micros errors <<< "$(grep '^RESULT' <<< "$out")"
  python3 -c "print(f'{$reqs / ($micros / 1e6):.0f} $errors')"
}

read -r D_RANGE D_RANGE_E <<< "$(measure "http://127.0.0.1:$SS_PORT/videos/$BIG" "$WORK/ranges.lua")"
read -r W_RANGE W_RANGE_E <<< "$(measure "http://127.0.0.1:$WEB_PORT/videos/$BIG" "$WORK/ranges.lua")"
PEAK_LOAD=$(rss_kib "$WEB_PID")
read -r D_SMALL D_SMALL_E <<< "$(measure "http://127.0.0.1:$SS_PORT/videos/$SMALL" "$WORK/plain.lua")"
read -r W_SMALL W_SMALL_E <<< "$(measure "http://127.0.0.1:$WEB_PORT/videos/$SMALL" "$WORK/plain.lua")"

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
printf '\n%-34s %12s %10s %7s\n' "case" "req/s" "vs direct" "errors"
printf '%-34s %12s %10s %7s\n' "streamserver 1 MiB ranges" "$D_RANGE" "1.00" "$D_RANGE_E"
printf '%-34s %12s %10s %7s\n' "web -> streamserver 1 MiB ranges" "$W_RANGE" "$(ratio "$W_RANGE" "$D_RANGE")" "$W_RANGE_E"
printf '%-34s %12s %10s %7s\n' "streamserver 4 KiB" "$D_SMALL" "1.00" "$D_SMALL_E"
printf '%-34s %12s %10s %7s\n' "web -> streamserver 4 KiB" "$W_SMALL" "$(ratio "$W_SMALL" "$D_SMALL")" "$W_SMALL_E"
printf '\nweb RSS: idle %d KiB, after 64-connection range load %d KiB\n' "$IDLE" "$PEAK_LOAD"

# --- memory: a 1 GiB upload through web -------------------------------------------------------
UP=$WORK/upload.mp4
truncate -s 1G "$UP"
printf '\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2' | dd of="$UP" conv=notrunc status=none
RSS0=$(rss_kib "$WEB_PID"); PEAK=$RSS0
curl -sf -o "$WORK/upload.json" -X PUT -H "Cookie: session=$SID" -T "$UP" \
  "http://127.0.0.1:$WEB_PORT/upload/$PENDING" &
CURL=$!
while kill -0 "$CURL" 2>/dev/null; do
  now=$(rss_kib "$WEB_PID"); [ "$now" -gt "$PEAK" ] && PEAK=$now
  sleep 0.05
done
wait "$CURL" || { echo "upload failed" >&2; cat "$WORK/web.log" "$WORK/streamserver.log" >&2; exit 1; }
printf 'upload 1 GiB through web: web RSS %d KiB -> peak %d KiB, rise %d KiB (budget < 32768 KiB)\n' \
  "$RSS0" "$PEAK" "$((PEAK - RSS0))"
