#!/usr/bin/env bash
# The media origin (issue 16) against the paths it replaces, in ONE table: random 1 MiB ranges of
# a 64 MiB video and a 4 KiB video, 64 connections each, req/s, p99 latency, the ratio to the
# streamserver direct and to nginx `sendfile on` serving the same file, and web's RSS after each
# run through web. The rows:
#
#   streamserver direct            GET /videos/{vid} on the streamserver, no Origin: the baseline
#   media origin, public URL       the URL a browser gets with MEDIA_URL set (the api's play_url),
#                                  with `Origin: <site>` as a <video crossorigin> sends it, so the
#                                  CORS answer is part of the cost
#   media origin, signed URL       a private video's play_url from the api: /s/<grant>/videos/{vid},
#                                  checked by the streamserver on every request (HMAC, no database)
#   nginx media block -> stream    the same public URL through the `media.` server of
#                                  deploy/nginx-multi-host.conf (the shipped text, upstream and
#                                  listen replaced), in front of the one streamserver
#   web, local files               /videos/{vid} through web as ./deploy.sh runs it without
#                                  MEDIA_URL (STORAGE_DIR set for web too): the streamserver checks
#                                  the request and web sends the file's bytes itself
#                                  (svc/src/local_file.rs)
#   web proxy (no MEDIA_URL)       the same through web without STORAGE_DIR: every byte proxied
#   haproxy splice -> stream       HAProxy in front of the same streamserver with
#                                  `option splice-response`: the kernel moves the body from one
#                                  socket to the other through a pipe, no copy through the proxy's
#                                  memory. The best a proxy hop does on this machine: the ceiling
#                                  for web's proxy (issue 16 asks 0.8x of direct of it)
#   haproxy copy -> stream         the same HAProxy without splicing: a copying proxy in C
#   nginx sendfile                 nginx serving the file from disk itself (PeerTube's default path)
#
#   bench/media-origin.sh                      release build, every row
#   BENCH_DURATION=8s bench/media-origin.sh    length of each wrk run (default 5s)
#   BENCH_ROUNDS=5 bench/media-origin.sh       rounds (default 3): every round runs every row once,
#                                              in turn, and the table shows each row's median, so
#                                              a burst of other work on the machine hits all rows
#                                              alike instead of one (18 runs a round)
#   BENCH_ROWS="0 4 5 8" bench/media-origin.sh only these rows (by index in the list below; keep
#                                              0 and 8, the ratios divide by them)
#
# Needs: the dev MariaDB (scripts/devdb start), wrk, nginx, haproxy, curl, python3, mariadb client.
# Everything listens on 127.0.0.1; everything it starts it stops. The machine's cores are shared by
# wrk and the servers, so read the ratios, not the absolute numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
DURATION=${BENCH_DURATION:-5s}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=64

for tool in wrk nginx haproxy curl python3 mariadb; do
  command -v "$tool" >/dev/null || { echo "bench/media-origin.sh: $tool is required (apt-get install $tool)" >&2; exit 1; }
done
cargo build --release -q -p api -p streamserver -p web
API_BIN=$CARGO_TARGET_DIR/release/api
SS_BIN=$CARGO_TARGET_DIR/release/streamserver
WEB_BIN=$CARGO_TARGET_DIR/release/web

bench_workspace bench-media

SS_PORT=$(free_port) API_PORT=$(free_port) WEB_PORT=$(free_port)
NG_PORT=$(free_port) NG_MEDIA_PORT=$(free_port)
SITE=http://127.0.0.1:$WEB_PORT
MEDIA_URL=http://127.0.0.1:$SS_PORT
KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')

# --- data: the api migrates a throwaway database; one user, a public and a private copy of each
# file (the same bytes, so every row reads the same data) ------------------------------------
sql -e "CREATE DATABASE $DB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
DBURL="$ADMIN/$DB"
DATABASE_URL=$DBURL API_ADDR=127.0.0.1:$API_PORT MEDIA_URL=$MEDIA_URL MEDIA_SIGNING_KEY=$KEY \
  RUST_LOG=warn "$API_BIN" > "$WORK/api.log" 2>&1 &
PIDS+=("$!")
wait_ready "$API_PORT" api

STORE=$WORK/storage WWW=$WORK/www
mkdir -p "$STORE/videos" "$WWW"
head -c $((64 << 20)) /dev/urandom > "$WWW/big.mp4"
head -c 4096 /dev/urandom > "$WWW/small.mp4"
BIG=11111111-1111-4111-8111-111111111111
SMALL=22222222-2222-4222-8222-222222222222
BIG_P=33333333-3333-4333-8333-333333333333
SMALL_P=55555555-5555-4555-8555-555555555555
SID=44444444-4444-4444-8444-444444444444
for v in "$BIG" "$BIG_P"; do cp "$WWW/big.mp4" "$STORE/videos/$v"; done
for v in "$SMALL" "$SMALL_P"; do cp "$WWW/small.mp4" "$STORE/videos/$v"; done
# nginx workers run as an unprivileged user: let them read the files.
chmod 755 "$WORK" "$WWW"; chmod 644 "$WWW"/*
BIG_SHA=$(sha256sum "$WWW/big.mp4" | cut -c1-64) SMALL_SHA=$(sha256sum "$WWW/small.mp4" | cut -c1-64)
sql "$DB" <<SQL
INSERT INTO users (id, login_name, pwd_hash) VALUES (1, 'bench', 'x');
INSERT INTO sessions (session_id, user_id, expires_at) VALUES ('$SID', 1, UTC_TIMESTAMP() + INTERVAL 1 DAY);
INSERT INTO video_info (id, author_id, name, display_ctime, state, size, content_type, sha256, uploaded_at, visibility) VALUES
 ('$BIG', 1, 'big', 'x', 'ready', $((64 << 20)), 'video/mp4', '$BIG_SHA', UTC_TIMESTAMP(6), 'public'),
 ('$SMALL', 1, 'small', 'x', 'ready', 4096, 'video/mp4', '$SMALL_SHA', UTC_TIMESTAMP(6), 'public'),
 ('$BIG_P', 1, 'big private', 'x', 'ready', $((64 << 20)), 'video/mp4', '$BIG_SHA', UTC_TIMESTAMP(6), 'private'),
 ('$SMALL_P', 1, 'small private', 'x', 'ready', 4096, 'video/mp4', '$SMALL_SHA', UTC_TIMESTAMP(6), 'private');
SQL

# --- the servers ------------------------------------------------------------------------------
DATABASE_URL=$DBURL STREAM_ADDR=127.0.0.1:$SS_PORT STORAGE_DIR=$STORE MEDIA_SIGNING_KEY=$KEY \
  PUBLIC_URL=$SITE RATE_LIMIT_PER_SECOND=1000000 RATE_LIMIT_BURST=1000000 MAX_STREAMS=100000 \
  MAX_STREAMS_PER_IP=100000 RUST_LOG=warn "$SS_BIN" > "$WORK/streamserver.log" 2>&1 &
PIDS+=("$!")
wait_ready "$SS_PORT" streamserver
# web as it runs without MEDIA_URL: every byte through its proxy.
WEB_ADDR=127.0.0.1:$WEB_PORT STREAM_URL=http://127.0.0.1:$SS_PORT API_URL=http://127.0.0.1:$API_PORT \
  PUBLIC_URL=$SITE RUST_LOG=warn "$WEB_BIN" > "$WORK/web.log" 2>&1 &
WEB_PID=$!; PIDS+=("$WEB_PID")
wait_ready "$WEB_PORT" web
# web as ./deploy.sh runs it: the same environment as the streamserver, STORAGE_DIR included.
WEB_LOCAL_PORT=$(free_port)
WEB_ADDR=127.0.0.1:$WEB_LOCAL_PORT STREAM_URL=http://127.0.0.1:$SS_PORT \
  API_URL=http://127.0.0.1:$API_PORT PUBLIC_URL=$SITE STORAGE_DIR=$STORE RUST_LOG=warn \
  "$WEB_BIN" > "$WORK/web-local.log" 2>&1 &
WEB_LOCAL_PID=$!; PIDS+=("$WEB_LOCAL_PID")
wait_ready "$WEB_LOCAL_PORT" web

# nginx: one server with sendfile on the files, and the shipped media server block (its upstream's
# server lines replaced by this streamserver, its listen by a free port; every proxy setting is
# the shipped text).
mkdir -p "$WORK/nginx/logs" "$WORK/nginx/tmp"
media_block=$(awk -v stream="127.0.0.1:$SS_PORT" -v port="$NG_MEDIA_PORT" '
  /^upstream video_stream / { up = 1; print; next }
  up && /^[[:space:]]*server[[:space:]]/ { next }
  up && /^}/ { printf "    server %s;\n", stream; print; up = 0; next }
  up { print; next }
  /^server[[:space:]]*\{/ { buf = $0 "\n"; in_server = 1; media = 0; next }
  in_server {
    buf = buf $0 "\n"
    if ($0 ~ /^[[:space:]]*server_name[[:space:]]+media\./) media = 1
    if ($0 ~ /^}/) {
      if (media) { sub(/listen 80;/, "listen 127.0.0.1:" port ";", buf); printf "%s", buf }
      in_server = 0
    }
  }' deploy/nginx-multi-host.conf)
grep -q "listen 127.0.0.1:$NG_MEDIA_PORT;" <<<"$media_block" \
  || { echo "deploy/nginx-multi-host.conf has no media server block with 'listen 80;'" >&2; exit 1; }
cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $WORK/nginx/tmp;
  proxy_temp_path $WORK/nginx/tmp; fastcgi_temp_path $WORK/nginx/tmp;
  uwsgi_temp_path $WORK/nginx/tmp; scgi_temp_path $WORK/nginx/tmp;
  server { listen 127.0.0.1:$NG_PORT; root $WWW; }
$media_block
}
CONF
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" > "$WORK/nginx.log" 2>&1 &
PIDS+=("$!")
wait_ready "$NG_PORT" nginx /small.mp4
wait_ready "$NG_MEDIA_PORT" nginx /readyz

# haproxy: the same streamserver behind HAProxy, splicing and copying (two threads, as many as
# the cores here; connections to the streamserver kept and reused).
HA_SPLICE_PORT=$(free_port) HA_COPY_PORT=$(free_port)
for spec in "$HA_SPLICE_PORT option splice-response" "$HA_COPY_PORT no option splice-response"; do
  port=${spec%% *}
  cat > "$WORK/haproxy-$port.cfg" <<CFG
global
  nbthread 2
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
  http-reuse always
frontend site
  bind 127.0.0.1:$port
  default_backend stream
backend stream
  ${spec#* }
  server stream 127.0.0.1:$SS_PORT
CFG
  haproxy -db -f "$WORK/haproxy-$port.cfg" > "$WORK/haproxy.log" 2>&1 &
  PIDS+=("$!")
  wait_ready "$port" haproxy
done

# --- the URLs a browser is given --------------------------------------------------------------
# object FIELD VID: a field of the api's video object, as the owner reads it.
object() {
  curl -fsS -H "X-Session-Id: $SID" "http://127.0.0.1:$API_PORT/videos/$2" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1]) or "")' "$1"
}
PUB_BIG=$(object play_url "$BIG") PUB_SMALL=$(object play_url "$SMALL")
SIG_BIG=$(object play_url "$BIG_P") SIG_SMALL=$(object play_url "$SMALL_P")
for url in "$PUB_BIG" "$PUB_SMALL"; do
  case "$url" in "$MEDIA_URL"/videos/*) ;; *) echo "the api's public play_url is '$url', not on MEDIA_URL=$MEDIA_URL" >&2; exit 1 ;; esac
done
for url in "$SIG_BIG" "$SIG_SMALL"; do
  case "$url" in "$MEDIA_URL"/s/*/videos/*) ;; *) echo "the api's private play_url is '$url', not a signed URL on MEDIA_URL=$MEDIA_URL" >&2; exit 1 ;; esac
done
for url in "$PUB_BIG" "$SIG_BIG"; do
  code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Origin: $SITE" -H 'Range: bytes=0-1' "$url")
  [ "$code" = 206 ] || { echo "$url answered $code, not 206:" >&2; tail -n 5 "$WORK/streamserver.log" >&2; exit 1; }
done

# --- wrk ---------------------------------------------------------------------------------------
# ranges.lua: a random 1 MiB range of the 64 MiB file; plain.lua: the whole resource. Both send
# `Origin: $ORIGIN` when it is set (a <video crossorigin> does) and print
# "RESULT requests micros errors p99_us".
cat > "$WORK/ranges.lua" <<'LUA'
local size = 64 * 1024 * 1024
local chunk = 1024 * 1024
local origin = os.getenv("ORIGIN")
local counter = 0
function setup(thread) counter = counter + 1; thread:set("seed", counter) end
function init(args) math.randomseed(os.time() + seed) end
function request()
  local first = math.random(0, size - chunk)
  local headers = { Range = "bytes=" .. first .. "-" .. (first + chunk - 1) }
  if origin and origin ~= "" then headers["Origin"] = origin end
  return wrk.format("GET", nil, headers)
end
function done(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d\n", summary.requests, summary.duration,
    summary.errors.status + summary.errors.read + summary.errors.connect + summary.errors.timeout,
    latency:percentile(99)))
end
LUA
cat > "$WORK/plain.lua" <<'LUA'
local origin = os.getenv("ORIGIN")
if origin and origin ~= "" then wrk.headers["Origin"] = origin end
function done(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d\n", summary.requests, summary.duration,
    summary.errors.status + summary.errors.read + summary.errors.connect + summary.errors.timeout,
    latency:percentile(99)))
end
LUA

# measure URL SCRIPT [ORIGIN]: prints "req/s p99_ms errors".
measure() {
  local out reqs micros errors p99
  out=$(ORIGIN=${3:-} wrk -t2 -c$CONNS -d"$DURATION" --latency -s "$2" "$1")
  read -r _ reqs micros errors p99 <<<"$(grep '^RESULT' <<<"$out")"
  python3 -c "print(f'{$reqs / ($micros / 1e6):.0f} {$p99 / 1000:.1f} $errors')"
}

# The rows: name, then the 1 MiB and the 4 KiB URL, then the Origin sent.
NAMES=() RANGE_URLS=() SMALL_URLS=() ORIGINS=()
row() { NAMES+=("$1"); RANGE_URLS+=("$2"); SMALL_URLS+=("$3"); ORIGINS+=("$4"); }
row "streamserver direct" "http://127.0.0.1:$SS_PORT/videos/$BIG" "http://127.0.0.1:$SS_PORT/videos/$SMALL" ""
row "media origin, public URL" "$PUB_BIG" "$PUB_SMALL" "$SITE"
row "media origin, signed URL" "$SIG_BIG" "$SIG_SMALL" "$SITE"
row "nginx media block -> stream" "http://127.0.0.1:$NG_MEDIA_PORT/videos/$BIG" \
  "http://127.0.0.1:$NG_MEDIA_PORT/videos/$SMALL" "$SITE"
row "web, local files" "http://127.0.0.1:$WEB_LOCAL_PORT/videos/$BIG" \
  "http://127.0.0.1:$WEB_LOCAL_PORT/videos/$SMALL" ""
row "web proxy (no MEDIA_URL)" "$SITE/videos/$BIG" "$SITE/videos/$SMALL" ""
row "haproxy splice -> stream" "http://127.0.0.1:$HA_SPLICE_PORT/videos/$BIG" \
  "http://127.0.0.1:$HA_SPLICE_PORT/videos/$SMALL" ""
row "haproxy copy -> stream" "http://127.0.0.1:$HA_COPY_PORT/videos/$BIG" \
  "http://127.0.0.1:$HA_COPY_PORT/videos/$SMALL" ""
row "nginx sendfile" "http://127.0.0.1:$NG_PORT/big.mp4" "http://127.0.0.1:$NG_PORT/small.mp4" ""
WEB_LOCAL_ROW=4 WEB_ROW=5 DIRECT_ROW=0 NGINX_ROW=8

# BENCH_ROWS="0 4 5 8" runs only those rows (by index above); the table still needs the direct
# and nginx rows for its ratios.
ROW_LIST=${BENCH_ROWS:-${!NAMES[*]}}
WEB_IDLE=$(rss_kib "$WEB_PID")
# Every run appends "req/s p99 errors" to RUNS[kind row]; web's RSS is taken after each web run
# and the highest is shown.
declare -A RUNS RPS P99 ERR RSS
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round of $ROUNDS" >&2
  for kind in range small; do
    for i in $ROW_LIST; do
      if [ "$kind" = range ]; then url=${RANGE_URLS[$i]} script=$WORK/ranges.lua
      else url=${SMALL_URLS[$i]} script=$WORK/plain.lua; fi
      RUNS[$kind$i]+="$(measure "$url" "$script" "${ORIGINS[$i]}");"
      if [ "$i" = "$WEB_ROW" ] || [ "$i" = "$WEB_LOCAL_ROW" ]; then
        pid=$WEB_PID; [ "$i" = "$WEB_LOCAL_ROW" ] && pid=$WEB_LOCAL_PID
        rss=$(rss_kib "$pid")
        [ "$rss" -gt "${RSS[$kind$i]:-0}" ] && RSS[$kind$i]=$rss
      fi
    done
  done
done
# web's RSS once the load is over: its pool closes idle upstream connections after 5 s
# (web/src/upstream.rs), so the figures in the table (taken at the end of each run) still hold
# the buffers of 64 pooled connections.
sleep 6
WEB_AFTER=$(rss_kib "$WEB_PID") WEB_LOCAL_AFTER=$(rss_kib "$WEB_LOCAL_PID")
# The median run's figures (by req/s), and the errors of all runs.
for key in "${!RUNS[@]}"; do
  read -r "RPS[$key]" "P99[$key]" "ERR[$key]" <<<"$(python3 -c '
import sys
runs = [r.split() for r in sys.argv[1].split(";") if r]
runs.sort(key=lambda r: float(r[0]))
mid = runs[len(runs) // 2]
print(mid[0], mid[1], sum(int(r[2]) for r in runs))' "${RUNS[$key]}")"
done

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
# The load average says how busy the machine was (a quiet 2-core machine reads below 2).
printf '\n%d connections, %s per run, median of %d rounds, release build, %d cores, load average %s; web RSS idle %d KiB, 6 s after the last run (pool idle) %d KiB proxying, %d KiB with local files\n\n' \
  "$CONNS" "$DURATION" "$ROUNDS" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$WEB_IDLE" "$WEB_AFTER" "$WEB_LOCAL_AFTER"
printf '| %-28s | %-12s | %8s | %8s | %9s | %8s | %6s | %12s |\n' \
  case load req/s "p99 ms" "vs direct" "vs nginx" errors "web RSS KiB"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' "------------------------------" "--------------" \
  "---------:" "---------:" "----------:" "---------:" "-------:" "-------------:"
for kind in range small; do
  load="1 MiB ranges"; [ "$kind" = small ] && load="4 KiB file"
  for i in $ROW_LIST; do
    rss=${RSS[$kind$i]:-}
    printf '| %-28s | %-12s | %8s | %8s | %9s | %8s | %6s | %12s |\n' "${NAMES[$i]}" "$load" \
      "${RPS[$kind$i]}" "${P99[$kind$i]}" "$(ratio "${RPS[$kind$i]}" "${RPS[$kind$DIRECT_ROW]}")" \
      "$(ratio "${RPS[$kind$i]}" "${RPS[$kind$NGINX_ROW]}")" "${ERR[$kind$i]}" "$rss"
  done
done
for key in "${!ERR[@]}"; do
  if [ "${ERR[$key]}" != 0 ]; then
    echo "WARNING: some runs had errors (failed or timed-out responses count in wrk's req/s); see $WORK/streamserver.log and re-run on a quiet machine" >&2
    break
  fi
done
