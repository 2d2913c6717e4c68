#!/usr/bin/env bash
# Side-by-side benchmark of streamserver playback against nginx `sendfile on`, plus memory
# figures (SPEC section 8). Prints req/s, CPU seconds per GB served and the ratio to nginx for
# random 1 MiB ranges of a 64 MiB file and for a 4 KiB file, both at 64 connections; RSS per
# stalled stream; RSS rise while uploading 1 GiB.
#
#   bench/stream.sh                       release build, every figure
#   BENCH_DURATION=5s bench/stream.sh     length of each wrk run (default 8s)
#   BENCH_CHUNKS="64KiB 32KiB:2:false"    compare STREAM_CHUNK_SIZE[:STREAM_READ_AHEAD
#                                         [:STREAM_INLINE_READS]] settings (default: the shipped
#                                         32KiB:1:true, and 64KiB on the blocking pool)
#
# Needs: the dev MariaDB (scripts/devdb start), wrk, nginx, curl, python3, mariadb client.
# Everything listens on 127.0.0.1; everything it starts it stops.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
DURATION=${BENCH_DURATION:-8s}
CHUNKS=${BENCH_CHUNKS:-32KiB 64KiB:1:false}
CONNS=64
STALLED=${BENCH_STALLED:-200}
TICK=$(getconf CLK_TCK)

cargo build --release -q -p streamserver
BIN=$CARGO_TARGET_DIR/release/streamserver

WORK=$(mktemp -d /tmp/stream-bench.XXXXXX)
PIDS=()
DB=bench_$(date +%s)_$$
bench_admin
sql() { admin_sql "$@"; }

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  sql -e "DROP DATABASE IF EXISTS $DB" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

cpu_ticks() { # utime + stime of a process and its children-in-flight (nginx workers)
  local total=0 pid
  for pid in "$@"; do
    read -r -a f < "/proc/$pid/stat"
    total=$((total + f[13] + f[14]))
  done
  echo "$total"
}

# --- data: a migrated throwaway database, one user, two playable videos --------------------
sql -e "CREATE DATABASE $DB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
for f in svc/migrations/*.sql; do sql "$DB" < "$f"; done
STORE=$WORK/storage; WWW=$WORK/www
mkdir -p "$STORE/videos" "$WWW"
head -c $((64 << 20)) /dev/urandom > "$WWW/big.mp4"
head -c 4096 /dev/urandom > "$WWW/small.mp4"
BIG=11111111-1111-4111-8111-111111111111
SMALL=22222222-2222-4222-8222-222222222222
PENDING=33333333-3333-4333-8333-333333333333
SID=44444444-4444-4444-8444-444444444444
cp "$WWW/big.mp4" "$STORE/videos/$BIG"; cp "$WWW/small.mp4" "$STORE/videos/$SMALL"
# nginx workers run as an unprivileged user: let them read the files.
chmod 755 "$WORK" "$WWW"; chmod 644 "$WWW"/*
sql "$DB" <<SQL
INSERT INTO users (id, login_name, pwd_hash) VALUES (1, 'bench', 'x');
INSERT INTO sessions (session_id, user_id, expires_at) VALUES ('$SID', 1, UTC_TIMESTAMP() + INTERVAL 1 DAY);
INSERT INTO video_info (id, author_id, name, display_ctime, state, size, content_type, sha256, uploaded_at) VALUES
 ('$BIG', 1, 'big', 'x', 'ready', $((64 << 20)), 'video/mp4', '$(sha256sum "$WWW/big.mp4" | cut -c1-64)', UTC_TIMESTAMP(6)),
 ('$SMALL', 1, 'small', 'x', 'ready', 4096, 'video/mp4', '$(sha256sum "$WWW/small.mp4" | cut -c1-64)', UTC_TIMESTAMP(6)),
 ('$PENDING', 1, 'upload', 'x', 'pending', NULL, NULL, NULL, NULL);
SQL
DBURL="$ADMIN/$DB"

# --- nginx with sendfile --------------------------------------------------------------------
NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx/logs"
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
  server { listen 127.0.0.1:$NGINX_PORT; root $WWW; }
}
CONF
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" &
NGINX_PID=$!; PIDS+=("$NGINX_PID")

write_wrk_scripts "$WORK"

# Runs wrk against URL with SCRIPT while measuring the CPU of PIDS; prints "req/s cpu_s_per_gb".
measure() {
  local url=$1 script=$2; shift 2
  local before after out
  before=$(cpu_ticks "$@")
  out=$(wrk -t2 -c$CONNS -d"$DURATION" -s "$script" "$url")
  after=$(cpu_ticks "$@")
  read -r _ reqs bytes micros errors <<< "$(grep '^RESULT' <<< "$out")"
  python3 - "$reqs" "$bytes" "$micros" "$errors" "$((after - before))" "$TICK" <<'PY'
import sys
reqs, nbytes, micros, errors, ticks, tick = map(int, sys.argv[1:])
cpu = ticks / tick
print(f"{reqs / (micros / 1e6):.0f} {cpu / (nbytes / 1e9) if nbytes else 0:.3f} {errors}")
PY
}
nginx_pids() { echo "$NGINX_PID" $(pgrep -P "$NGINX_PID" || true); }

sleep 1
read -r NG_RANGE NG_RANGE_CPU NG_RANGE_ERR <<< "$(measure "http://127.0.0.1:$NGINX_PORT/big.mp4" "$WORK/ranges.lua" $(nginx_pids))"
read -r NG_SMALL NG_SMALL_CPU NG_SMALL_ERR <<< "$(measure "http://127.0.0.1:$NGINX_PORT/small.mp4" "$WORK/plain.lua" $(nginx_pids))"

start_stream() { # chunk size[:read-ahead[:inline reads]] -> sets SS_PID, SS_PORT
  SS_PORT=$(free_port)
  local chunk ahead inline
  IFS=: read -r chunk ahead inline <<< "$1"
  DATABASE_URL=$DBURL STREAM_ADDR=127.0.0.1:$SS_PORT STORAGE_DIR=$STORE STREAM_CHUNK_SIZE=$chunk \
    STREAM_READ_AHEAD=${ahead:-1} STREAM_INLINE_READS=${inline:-true} \
    RATE_LIMIT_PER_SECOND=1000000 RATE_LIMIT_BURST=1000000 MAX_STREAMS=100000 \
    MAX_STREAMS_PER_IP=100000 RUST_LOG=warn "$BIN" > "$WORK/stream.log" 2>&1 &
  SS_PID=$!; PIDS+=("$SS_PID")
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$SS_PORT/readyz" > /dev/null && return 0
    sleep 0.1
  done
  echo "streamserver did not start:" >&2; cat "$WORK/stream.log" >&2; exit 1
}
stop_stream() { kill "$SS_PID"; wait "$SS_PID" 2>/dev/null || true; }

# Opens $STALLED streams of the big file that never read, prints "RSS_before RSS_after per_stream".
stalled() {
  curl -sf -o /dev/null "http://127.0.0.1:$SS_PORT/videos/$SMALL"
  sleep 0.5
  local rss0 rss1
  rss0=$(rss_kib "$SS_PID")
  rss1=$(python3 - "$SS_PORT" "$BIG" "$STALLED" "$SS_PID" <<'PY'
import socket, sys, time
port, vid, n, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
socks = []
for _ in range(n):
    s = socket.socket()
    # A small receive window, as a phone on a bad network has: the server's writes block soon.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.connect(("127.0.0.1", port))
    s.sendall(f"GET /videos/{vid} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    socks.append(s)
time.sleep(3)
print([l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0].split()[1])
for s in socks:
    s.close()
PY
)
  echo "$rss0 $rss1 $(( (rss1 - rss0) * 1024 / STALLED ))"
}

printf '\n%-34s %12s %12s %8s %7s\n' "case" "req/s" "CPU s/GB" "vs nginx" "errors"
printf '%-34s %12s %12s %8s %7s\n' "nginx 1 MiB ranges" "$NG_RANGE" "$NG_RANGE_CPU" "1.00" "$NG_RANGE_ERR"
printf '%-34s %12s %12s %8s %7s\n' "nginx 4 KiB file" "$NG_SMALL" "$NG_SMALL_CPU" "1.00" "$NG_SMALL_ERR"
STALLED_LINES=()
for chunk in $CHUNKS; do
  start_stream "$chunk"
  read -r R RC RE <<< "$(measure "http://127.0.0.1:$SS_PORT/videos/$BIG" "$WORK/ranges.lua" "$SS_PID")"
  read -r S SC SE <<< "$(measure "http://127.0.0.1:$SS_PORT/videos/$SMALL" "$WORK/plain.lua" "$SS_PID")"
  printf '%-34s %12s %12s %8s %7s\n' "streamserver ranges ($chunk)" "$R" "$RC" "$(python3 -c "print(f'{$R/$NG_RANGE:.2f}')")" "$RE"
  printf '%-34s %12s %12s %8s %7s\n' "streamserver 4 KiB ($chunk)" "$S" "$SC" "$(python3 -c "print(f'{$S/$NG_SMALL:.2f}')")" "$SE"
  read -r RSS0 RSS1 PER <<< "$(stalled)"
  STALLED_LINES+=("$(printf '%s streams stalled with STREAM_CHUNK_SIZE=%s: RSS %d KiB -> %d KiB, %d bytes per stalled stream (budget 65536)' "$STALLED" "$chunk" "$RSS0" "$RSS1" "$PER")")
  stop_stream
done

echo
printf '%s\n' "${STALLED_LINES[@]}"

# --- memory: a 1 GiB upload -------------------------------------------------------------------
start_stream 32KiB
UP=$WORK/upload.mp4
truncate -s 1G "$UP"
printf '\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2' | dd of="$UP" conv=notrunc status=none
sleep 0.5
RSS0=$(rss_kib "$SS_PID"); PEAK=$RSS0
curl -sf -o "$WORK/upload.json" -X PUT -H "X-Session-Id: $SID" -T "$UP" \
  "http://127.0.0.1:$SS_PORT/upload/$PENDING" &
CURL=$!
while kill -0 "$CURL" 2>/dev/null; do
  now=$(rss_kib "$SS_PID"); [ "$now" -gt "$PEAK" ] && PEAK=$now
  sleep 0.05
done
wait "$CURL" || { echo "upload failed" >&2; cat "$WORK/stream.log" >&2; exit 1; }
printf 'upload 1 GiB: RSS %d KiB -> peak %d KiB, rise %d KiB (budget < 32768 KiB); %s\n' \
  "$RSS0" "$PEAK" "$((PEAK - RSS0))" "$(cat "$WORK/upload.json")"
printf 'idle RSS after the runs: %d KiB\n' "$(rss_kib "$SS_PID")"
stop_stream
