#!/usr/bin/env bash
# Side-by-side benchmark of the streamserver on S3 storage (issue 13), against a real
# S3-compatible server (moto, from the test tools) on loopback. Prints, as ratios:
#   - random 1 MiB ranges of a 64 MiB video at 64 connections (wrk): the streamserver serving
#     it from S3 (ranged GETs to the bucket) against the same file on local disk;
#   - the same ranges in PLAYBACK_REDIRECT=presigned mode (a 307, then the range from the
#     bucket) against ranges asked of the S3 server directly (with one presigned URL, the bucket
#     being private), both by the same Python client (wrk follows no redirects), and the
#     streamserver's 307s alone with wrk;
#   - a 1 GiB PUT /upload into S3: the streamserver's RSS rise (goal under 64 MiB) and its
#     throughput against curl uploading the same file to the S3 server itself.
# moto is written in Python: it, not the streamserver, bounds the S3 figures here; the ratios
# say what the streamserver adds on top of the store it talks to.
#
#   bench/s3.sh                          release build, every figure
#   BENCH_DURATION=5s bench/s3.sh        length of each load run (default 8s)
#   BENCH_UPLOAD_MIB=256 bench/s3.sh     size of the upload (default 1024)
#   BENCH_S3_ENDPOINT=http://127.0.0.1:9000 BENCH_S3_BUCKET=bench AWS_ACCESS_KEY_ID=...
#   AWS_SECRET_ACCESS_KEY=... bench/s3.sh an S3 server of your own (MinIO, Garage, ...) with an
#                                         existing bucket instead of moto
#
# Needs: the dev MariaDB (scripts/devdb start), moto in the test tools (scripts/test-deps),
# wrk, curl, python3, the mariadb client. Everything listens on 127.0.0.1; everything it starts
# it stops.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
DURATION=${BENCH_DURATION:-8s}
SECONDS_EACH=${DURATION%s}
UPLOAD_MIB=${BENCH_UPLOAD_MIB:-1024}
CONNS=64
TOOLS=${TEST_TOOLS:-$ROOT/var/test-tools}
MOTO=$TOOLS/venv/bin/moto_server
if [ -z "${BENCH_S3_ENDPOINT:-}" ]; then
  [ -x "$MOTO" ] || { echo "no $MOTO: run scripts/test-deps" >&2; exit 1; }
fi
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-bench} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-bench}
REGION=${S3_REGION:-us-east-1}
# curl signing its requests (SigV4), as any S3 server wants; moto takes any key.
s3curl() { curl -sf --aws-sigv4 "aws:amz:$REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "$@"; }

cargo build --release -q -p streamserver
BIN=$CARGO_TARGET_DIR/release/streamserver

WORK=$(mktemp -d /tmp/s3-bench.XXXXXX)
BIG=11111111-1111-4111-8111-111111111111
PENDING=33333333-3333-4333-8333-333333333333
SID=44444444-4444-4444-8444-444444444444
PIDS=()
DB=bench_s3_$(date +%s)_$$
bench_admin
sql() { admin_sql "$@"; }
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  sql -e "DROP DATABASE IF EXISTS $DB" 2>/dev/null || true
  if [ -n "${BENCH_S3_ENDPOINT:-}" ]; then
    s3curl -X DELETE "$S3/$BUCKET/videos/$BIG" > /dev/null 2>&1 || true
    s3curl -X DELETE "$S3/$BUCKET/videos/$PENDING" > /dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- the S3 server and its bucket ------------------------------------------------------------
if [ -n "${BENCH_S3_ENDPOINT:-}" ]; then
  S3=${BENCH_S3_ENDPOINT%/}
  BUCKET=${BENCH_S3_BUCKET:?set BENCH_S3_BUCKET to an existing bucket}
else
  S3_PORT=$(free_port)
  "$MOTO" -H 127.0.0.1 -p "$S3_PORT" > "$WORK/moto.log" 2>&1 &
  PIDS+=($!)
  S3=http://127.0.0.1:$S3_PORT
  BUCKET=bench
  for _ in $(seq 100); do curl -sf "$S3" > /dev/null && break; sleep 0.1; done
  s3curl -X PUT "$S3/$BUCKET" > /dev/null
fi

# --- data: a migrated throwaway database, one user, a 64 MiB video in both storages ----------
sql -e "CREATE DATABASE $DB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
for f in svc/migrations/*.sql; do sql "$DB" < "$f"; done
STORE=$WORK/storage
mkdir -p "$STORE/videos"
head -c $((64 << 20)) /dev/urandom > "$STORE/videos/$BIG"
s3curl -X PUT -T "$STORE/videos/$BIG" "$S3/$BUCKET/videos/$BIG" > /dev/null
sql "$DB" <<SQL
INSERT INTO users (id, login_name, pwd_hash) VALUES (1, 'bench', 'x');
INSERT INTO sessions (session_id, user_id, expires_at) VALUES ('$SID', 1, UTC_TIMESTAMP() + INTERVAL 1 DAY);
INSERT INTO video_info (id, author_id, name, display_ctime, state, size, content_type, sha256, uploaded_at, visibility) VALUES
 ('$BIG', 1, 'big', 'x', 'ready', $((64 << 20)), 'video/mp4', '$(sha256sum "$STORE/videos/$BIG" | cut -c1-64)', UTC_TIMESTAMP(6), 'public'),
 ('$PENDING', 1, 'upload', 'x', 'pending', NULL, NULL, NULL, NULL, 'public');
SQL
DBURL="$ADMIN/$DB"
S3_ENV=(STORAGE_BACKEND=s3 S3_BUCKET=$BUCKET S3_ENDPOINT=$S3 S3_REGION=$REGION
  SCRATCH_DIR=$WORK/scratch)

# Starts a streamserver with the environment given as NAME=VALUE arguments; sets SS_PID, SS_PORT.
start_stream() {
  SS_PORT=$(free_port)
  env DATABASE_URL="$DBURL" STREAM_ADDR="127.0.0.1:$SS_PORT" RATE_LIMIT_PER_SECOND=1000000 \
    RATE_LIMIT_BURST=1000000 MAX_STREAMS=100000 MAX_STREAMS_PER_IP=100000 RUST_LOG=warn \
    "$@" "$BIN" > "$WORK/stream.log" 2>&1 &
  SS_PID=$!; PIDS+=("$SS_PID")
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$SS_PORT/readyz" > /dev/null && return 0
    sleep 0.1
  done
  echo "streamserver did not start:" >&2; cat "$WORK/stream.log" >&2; exit 1
}
stop_stream() { kill "$SS_PID"; wait "$SS_PID" 2>/dev/null || true; }

write_wrk_scripts "$WORK"
# wrk on URL with SCRIPT; prints "req/s errors".
wrk_rate() {
  local out
  out=$(wrk -t2 -c$CONNS -d"$DURATION" -s "$2" "$1")
  read -r _ reqs _ micros errors <<< "$(grep '^RESULT' <<< "$out")"
  python3 -c "print(f'{$reqs / ($micros / 1e6):.0f} $errors')"
}

# Random 1 MiB ranges of the big file by CONNS threads for the run's length, following one
# redirect (and keeping a connection per host per thread), as a player does; "req/s errors".
follow_rate() {
  python3 - "$1" "$CONNS" "$SECONDS_EACH" <<'PY'
import http.client, random, sys, threading, time, urllib.parse
url, conns, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
size, chunk = 64 << 20, 1 << 20
done, errors, lock = [0], [0], threading.Lock()
deadline = time.time() + seconds
def worker():
    pools = {}
    def get(u, rng):
        p = urllib.parse.urlsplit(u)
        conn = pools.get(p.netloc) or http.client.HTTPConnection(p.netloc, timeout=30)
        pools[p.netloc] = conn
        path = p.path + ("?" + p.query if p.query else "")
        conn.request("GET", path, headers={"Range": rng})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, resp.getheader("Location"), len(body)
    while time.time() < deadline:
        first = random.randrange(0, size - chunk)
        rng = f"bytes={first}-{first + chunk - 1}"
        try:
            status, location, n = get(url, rng)
            if status == 307:
                status, _, n = get(location, rng)
            ok = status == 206 and n == chunk
        except Exception:
            ok, pools = False, {}
        with lock:
            done[0] += ok
            errors[0] += not ok
threads = [threading.Thread(target=worker) for _ in range(conns)]
start = time.time()
for t in threads: t.start()
for t in threads: t.join()
print(f"{done[0] / (time.time() - start):.0f} {errors[0]}")
PY
}
ratio() { python3 -c "print(f'{$1 / $2:.2f}' if $2 else 'n/a')"; }

printf '\n%-50s %10s %8s %7s\n' "1 MiB random ranges, $CONNS connections" "req/s" "ratio" "errors"
start_stream STORAGE_DIR="$STORE"
read -r LOCAL LOCAL_E <<< "$(wrk_rate "http://127.0.0.1:$SS_PORT/videos/$BIG" "$WORK/ranges.lua")"
stop_stream
start_stream "${S3_ENV[@]}"
read -r PROXY PROXY_E <<< "$(wrk_rate "http://127.0.0.1:$SS_PORT/videos/$BIG" "$WORK/ranges.lua")"
stop_stream
printf '%-50s %10s %8s %7s\n' "streamserver, local disk (wrk)" "$LOCAL" "1.00" "$LOCAL_E"
printf '%-50s %10s %8s %7s\n' "streamserver, S3 proxied (wrk)" "$PROXY" "$(ratio "$PROXY" "$LOCAL")" "$PROXY_E"

# The S3 server directly: the presigned URL a 307 hands out (the bucket is private), asked for
# ranges again and again without going back to the streamserver.
start_stream "${S3_ENV[@]}" PLAYBACK_REDIRECT=presigned PRESIGN_TTL=1h
SIGNED=$(curl -s -o /dev/null -w '%{redirect_url}' "http://127.0.0.1:$SS_PORT/videos/$BIG")
read -r DIRECT DIRECT_E <<< "$(follow_rate "$SIGNED")"
read -r REDIRECT REDIRECT_E <<< "$(follow_rate "http://127.0.0.1:$SS_PORT/videos/$BIG")"
read -r ONLY ONLY_E <<< "$(wrk_rate "http://127.0.0.1:$SS_PORT/videos/$BIG" "$WORK/ranges.lua")"
stop_stream
printf '%-50s %10s %8s %7s\n' "S3 server directly (python client)" "$DIRECT" "1.00" "$DIRECT_E"
printf '%-50s %10s %8s %7s\n' "presigned redirect + S3 (python client)" "$REDIRECT" "$(ratio "$REDIRECT" "$DIRECT")" "$REDIRECT_E"
printf '%-50s %10s %8s %7s\n' "the streamserver's 307s alone (wrk)" "$ONLY" "" "$ONLY_E"

# --- a 1 GiB upload into S3 ---------------------------------------------------------------------
UP=$WORK/upload.mp4
truncate -s "${UPLOAD_MIB}M" "$UP"
printf '\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2' | dd of="$UP" conv=notrunc status=none
BYTES=$(stat -c %s "$UP")
mib_s() { python3 -c "print(f'{$BYTES / (1 << 20) / $1:.1f}')"; }

T0=$(date +%s.%N)
s3curl -X PUT -T "$UP" "$S3/$BUCKET/direct.mp4" > /dev/null
T_DIRECT=$(python3 -c "print($(date +%s.%N) - $T0)")
s3curl -X DELETE "$S3/$BUCKET/direct.mp4" > /dev/null || true

start_stream "${S3_ENV[@]}" MAX_UPLOAD_SIZE=5GiB
sleep 0.5
RSS0=$(rss_kib "$SS_PID"); PEAK=$RSS0
T0=$(date +%s.%N)
curl -sf -o "$WORK/upload.json" -X PUT -H "X-Session-Id: $SID" -T "$UP" \
  "http://127.0.0.1:$SS_PORT/upload/$PENDING" &
CURL=$!
while kill -0 "$CURL" 2>/dev/null; do
  now=$(rss_kib "$SS_PID"); [ "$now" -gt "$PEAK" ] && PEAK=$now
  sleep 0.05
done
wait "$CURL" || { echo "upload failed" >&2; cat "$WORK/stream.log" >&2; exit 1; }
T_STREAM=$(python3 -c "print($(date +%s.%N) - $T0)")
stop_stream

printf '\n%-50s %10s %8s\n' "upload of $UPLOAD_MIB MiB into S3" "MiB/s" "ratio"
printf '%-50s %10s %8s\n' "curl PUT to the S3 server directly" "$(mib_s "$T_DIRECT")" "1.00"
printf '%-50s %10s %8s\n' "PUT /upload through the streamserver" "$(mib_s "$T_STREAM")" "$(python3 -c "print(f'{$T_DIRECT / $T_STREAM:.2f}')")"
printf 'streamserver RSS %d KiB -> peak %d KiB: rise %d KiB (goal < 65536 KiB); %s\n' \
  "$RSS0" "$PEAK" "$((PEAK - RSS0))" "$(cat "$WORK/upload.json")"
