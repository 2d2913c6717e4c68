#!/usr/bin/env bash
# What web's reverse proxy costs: random 1 MiB ranges of a 64 MiB video and a 4 KiB video at 64
# connections, straight from the streamserver, through web proxying ("web") and through web with
# the streamserver's STORAGE_DIR ("local": large ranges sent from the file), printed as req/s, the
# ratio to direct and the CPU time each process spent per request; web's RSS idle, after the loads and
# once its idle upstream connections have closed; web's RSS rise while a 1 GiB upload streams
# through it.
#
#   bench/web-proxy.sh                      release build, every figure
#   BENCH_DURATION=5s bench/web-proxy.sh    length of each wrk run (default 5s)
#   BENCH_ROUNDS=3 bench/web-proxy.sh       repeat the load runs, interleaved (default 1)
#   WEB_BIN_BEFORE=/tmp/web-old bench/web-proxy.sh
#                                           also measure another web binary (say, a release build
#                                           of an older commit) side by side, same streamserver,
#                                           runs interleaved with this tree's web
#
# Ratios on a shared machine are noisy: each round runs direct and every web back to back, and
# compares them within the round. The CPU time per request (from /proc) moves less than req/s
# when other processes compete for the cores.
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
ROUNDS=${BENCH_ROUNDS:-1}
CONNS=64
BEFORE_BIN=${WEB_BIN_BEFORE:-}

cargo build --release -q -p streamserver -p web
SS_BIN=$CARGO_TARGET_DIR/release/streamserver
WEB_BIN=$CARGO_TARGET_DIR/release/web

bench_workspace bench-web

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
# start_web NAME BIN [VAR=VALUE...]: a web in front of the streamserver, with more environment;
# sets <NAME>_PORT and <NAME>_PID.
start_web() {
  local port pid
  port=$(free_port)
  env WEB_ADDR=127.0.0.1:$port STREAM_URL=http://127.0.0.1:$SS_PORT API_URL=http://127.0.0.1:1 \
    RUST_LOG=warn "${@:3}" "$2" > "$WORK/$1.log" 2>&1 &
  pid=$!; PIDS+=("$pid")
  wait_ready "$port" "$1"
  printf -v "${1}_PORT" '%s' "$port"
  printf -v "${1}_PID" '%s' "$pid"
}
start_web WEB "$WEB_BIN"
# As ./deploy.sh runs it: web has the streamserver's STORAGE_DIR and sends large ranges from the
# file once the streamserver has checked them (svc/src/local_file.rs).
start_web LOCAL "$WEB_BIN" STORAGE_DIR="$STORE"
WEBS=(WEB LOCAL)
if [ -n "$BEFORE_BIN" ]; then start_web BEFORE "$BEFORE_BIN"; WEBS+=(BEFORE); fi
sleep 0.5
declare -A IDLE
for w in "${WEBS[@]}"; do pid_var=${w}_PID; IDLE[$w]=$(rss_kib "${!pid_var}"); done

write_wrk_scripts "$WORK"
TICK=$(getconf CLK_TCK)

# CPU time of a process so far, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# measure URL SCRIPT WEB_PID: prints "req/s errors web-us stream-us" for a wrk run, the last two
# being the CPU time web (WEB_PID, or - for none) and the streamserver spent per request.
measure() {
  local out w0=0 w1=0 s0 s1
  [ "$3" != - ] && w0=$(cpu_ticks "$3")
  s0=$(cpu_ticks "$SS_PID")
  out=$(wrk -t2 -c$CONNS -d"$DURATION" -s "$2" "$1")
  [ "$3" != - ] && w1=$(cpu_ticks "$3")
  s1=$(cpu_ticks "$SS_PID")
  read -r _ reqs _ micros errors <<< "$(grep '^RESULT' <<< "$out")"
  python3 -c "
reqs = max($reqs, 1)
us = lambda ticks: f'{ticks / $TICK * 1e6 / reqs:.0f}'
web = us($w1 - $w0) if '$3' != '-' else '-'
print(f'{$reqs / ($micros / 1e6):.0f} $errors {web} {us($s1 - $s0)}')"
}

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
printf '\n%-6s %-28s %10s %10s %14s %14s %7s\n' \
  "round" "case" "req/s" "vs direct" "web us/req" "stream us/req" "errors"
declare -A RSS_RANGES
for round in $(seq "$ROUNDS"); do
  for case in ranges small; do
    if [ $case = ranges ]; then file=$BIG script=$WORK/ranges.lua label="1 MiB ranges"
    else file=$SMALL script=$WORK/plain.lua label="4 KiB"; fi
    read -r direct errors web_us ss_us <<< "$(measure "http://127.0.0.1:$SS_PORT/videos/$file" "$script" -)"
    printf '%-6s %-28s %10s %10s %14s %14s %7s\n' "$round" "direct $label" "$direct" 1.00 "$web_us" "$ss_us" "$errors"
    for w in "${WEBS[@]}"; do
      port_var=${w}_PORT; pid_var=${w}_PID
      read -r rate errors web_us ss_us <<< "$(measure "http://127.0.0.1:${!port_var}/videos/$file" "$script" "${!pid_var}")"
      printf '%-6s %-28s %10s %10s %14s %14s %7s\n' "$round" "${w,,} $label" "$rate" \
        "$(ratio "$rate" "$direct")" "$web_us" "$ss_us" "$errors"
      if [ $case = ranges ] && [ "$round" = 1 ]; then RSS_RANGES[$w]=$(rss_kib "${!pid_var}"); fi
    done
  done
done

# The pool closes idle upstream connections after 5 s (web/src/upstream.rs): wait that out once.
declare -A RSS_LOADED
for w in "${WEBS[@]}"; do pid_var=${w}_PID; RSS_LOADED[$w]=$(rss_kib "${!pid_var}"); done
sleep 6
printf '\n%-8s %12s %22s %20s %22s\n' "web RSS" "idle KiB" "after range load KiB" "after all loads KiB" "6 s later (pool idle)"
for w in "${WEBS[@]}"; do
  pid_var=${w}_PID
  printf '%-8s %12s %22s %20s %22s\n' "${w,,}" "${IDLE[$w]}" "${RSS_RANGES[$w]}" "${RSS_LOADED[$w]}" "$(rss_kib "${!pid_var}")"
done

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
wait "$CURL" || { echo "upload failed" >&2; cat "$WORK/WEB.log" "$WORK/streamserver.log" >&2; exit 1; }
printf 'upload 1 GiB through web: web RSS %d KiB -> peak %d KiB, rise %d KiB (budget < 32768 KiB)\n' \
  "$RSS0" "$PEAK" "$((PEAK - RSS0))"
