#!/usr/bin/env bash
# The cluster through nginx against one node of each (issue 13): wrk at 64 connections for
#   - playback: random 1 MiB ranges of one video, through the media origin (nginx's media
#     listener -> 2 streamservers, the URL browsers get: web redirects /videos/ there) and from
#     stream1 directly;
#   - api reads: GET /api/videos through the front and through web1, GET /videos from api1.
# Prints req/s, MiB/s and the ratio of each to the direct node. On one machine every node shares
# the same cores, so the ratios show what the two proxy hops cost, not what a second machine
# adds; on real hosts each node brings its own CPU.
#
#   bench/cluster.sh                       release build (DEPLOY_PROFILE=debug for a debug one)
#   BENCH_DURATION=5s bench/cluster.sh     length of each wrk run (default 8s)
#   CLUSTER_PORT=8090 bench/cluster.sh     when 8088 is taken
#
# Starts its own cluster (scripts/cluster) in a temporary directory and stops it at the end.
# Limits that would measure themselves (rate limits, per-client caps) are lifted.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
DURATION=${BENCH_DURATION:-8s}
CONNS=64
WORK=$(mktemp -d /tmp/cluster-bench.XXXXXX)
export CLUSTER_DIR=$WORK/cluster CLUSTER_PORT=${CLUSTER_PORT:-8088}
export RATE_LIMIT_PER_SECOND=1000000 RATE_LIMIT_BURST=1000000 READ_RATE_PER_MINUTE=0
export MAX_STREAMS_PER_IP=4096 MAX_STREAMS=4096 MAX_CONNECTIONS_PER_CLIENT=0 AUTH_BURST=100
export RUST_LOG=warn DRAIN_TIMEOUT=5s SCHEDULER_CRON="* * * * * *"
cleanup() {
  scripts/cluster stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
command -v wrk >/dev/null || { echo "bench/cluster.sh needs wrk (apt-get install wrk)" >&2; exit 1; }

scripts/cluster start
# shellcheck disable=SC1091
. "$CLUSTER_DIR/ports.env"
FRONT=http://127.0.0.1:$CLUSTER_PORT WEB1=http://127.0.0.1:$PORT_web1
MEDIA=$(. "$CLUSTER_DIR/cluster.env" && echo "$MEDIA_URL")
STREAM1=http://127.0.0.1:$PORT_stream1 API1=http://127.0.0.1:$PORT_api1
json() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# One public video, uploaded and processed, and a page of listings for the api reads.
session=$(curl -fsS -H 'Content-Type: application/json' -d '{"user_name":"bench","pwd":"password1"}' \
  "$API1/user" | json session_id)
ffmpeg -v error -f lavfi -i testsrc2=size=640x360:rate=30 -t 20 -c:v libx264 -preset ultrafast \
  -qp 0 -pix_fmt yuv420p -movflags +faststart "$WORK/clip.mp4"
vid=
for i in $(seq 1 20); do
  v=$(curl -fsS -H "X-Session-Id: $session" -H 'Content-Type: application/json' \
    -d "{\"name\":\"bench $i\"}" "$API1/user/bench/videos" | json id)
  vid=${vid:-$v}
done
curl -fsS -o /dev/null -X PUT -H "X-Session-Id: $session" -H 'Content-Type: video/mp4' \
  --data-binary @"$WORK/clip.mp4" "$STREAM1/upload/$vid"
# Wait until processing (and its ladder) is over, so no ffmpeg competes with the measurement.
for _ in $(seq 1 1800); do
  busy=$(mariadb --no-defaults -h127.0.0.1 -P"$(cat "$CLUSTER_DIR/mariadb/port")" -uvideo -pvideo video \
    -Nse "SELECT COUNT(*) FROM jobs WHERE state IN ('queued','running') AND kind <> 'delete_video'")
  [ "$busy" = 0 ] && break
  sleep 0.2
done
size=$(curl -fsS -I "$STREAM1/videos/$vid" | tr -d '\r' | awk 'tolower($1) == "content-length:" {print $2}')
[ "${size:-0}" -gt $((2 << 20)) ] || { echo "the video is only ${size:-0} bytes" >&2; exit 1; }

write_wrk_scripts "$WORK"
sed -i "s/^local size = .*/local size = $size/" "$WORK/ranges.lua"

# run NAME URL SCRIPT: prints "req/s MiB/s errors" of one wrk run.
run() {
  local out
  out=$(wrk -t 2 -c "$CONNS" -d "$DURATION" -s "$WORK/$3" "$2" | awk '/^RESULT/ {print $2, $3, $4, $5}')
  read -r n bytes micros errors <<<"$out"
  awk -v n="$n" -v b="$bytes" -v us="$micros" -v e="$errors" \
    'BEGIN { printf "%.0f %.1f %d\n", n / (us / 1e6), b / 1048576 / (us / 1e6), e }'
}

row() { # LABEL RESULT REFERENCE
  read -r rps mibs errors <<<"$2"
  read -r ref _ <<<"$3"
  printf '%-44s %9s req/s %9s MiB/s %6s errors   x%s\n' "$1" "$rps" "$mibs" "$errors" \
    "$(awk -v a="$rps" -v b="$ref" 'BEGIN { printf "%.2f", a / b }')"
}

echo
echo "cluster bench: $CONNS connections, $DURATION each, video of $size bytes, $(nproc) cores"
echo "-- playback, random 1 MiB ranges (ratio to stream1 directly)"
direct=$(run stream1 "$STREAM1/videos/$vid" ranges.lua)
row "stream1 directly" "$direct" "$direct"
row "media origin nginx (-> 2 streamservers)" "$(run media "$MEDIA/videos/$vid" ranges.lua)" "$direct"
echo "-- api reads, the public video list (ratio to api1 directly)"
direct=$(run api1 "$API1/videos" plain.lua)
row "api1 GET /videos" "$direct" "$direct"
row "web1 GET /api/videos (-> nginx -> 2 api)" "$(run web1 "$WEB1/api/videos" plain.lua)" "$direct"
row "front GET /api/videos (-> 2 web -> 2 api)" "$(run front "$FRONT/api/videos" plain.lua)" "$direct"
