#!/usr/bin/env bash
# bench/playback-transcode.sh: does processing starve viewers? Random 1 MiB ranges of a 64 MiB
# playable video at 64 connections, straight from the streamserver, first with nothing else
# running (idle), then while the real scheduler transcodes a 1080p upload beside it (busy),
# then idle again. Prints req/s for each and busy / idle (issue 12: at least 0.8x).
#
#   bench/playback-transcode.sh   release streamserver and scheduler over one throw-away
#                                 database and storage directory; the upload is a LENGTH-second
#                                 (default 120) 1920x1080 25 fps H.264 4:4:4 + PCM MOV, which
#                                 must be transcoded, so ffmpeg works flat out (at nice 10, with
#                                 TRANSCODE_CONCURRENCY=1, as shipped) for the whole busy run.
#
# The busy run starts only once the scheduler's ffmpeg child is running, and the figure is
# refused if ffmpeg ended before wrk did. Environment: DURATION (wrk run, default 10s), LENGTH
# (120), CARGO_TARGET_DIR. Needs wrk, ffmpeg, curl, python3, the mariadb client and the dev
# MariaDB (scripts/devdb start). Everything listens on 127.0.0.1; it stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
DURATION=${DURATION:-10s}
LENGTH=${LENGTH:-120}
for tool in wrk ffmpeg curl python3 mariadb pgrep; do
  command -v "$tool" >/dev/null || { echo "bench/playback-transcode.sh: $tool is required" >&2; exit 1; }
done

echo "== building streamserver and scheduler (release)"
cargo build --release -q -p streamserver -p scheduler
BIN=$CARGO_TARGET_DIR/release

WORK=$(mktemp -d /tmp/playback-transcode.XXXXXX)
PIDS=()
DB=playback_transcode_$$
bench_admin
sql() { admin_sql "$@"; }
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  sql -e "DROP DATABASE IF EXISTS $DB" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== making the ${LENGTH} s 1080p upload"
SRC=$WORK/upload.mov
ffmpeg -v error -y -f lavfi -i "testsrc2=size=1920x1080:rate=25:duration=$LENGTH,noise=alls=4:allf=t" \
  -f lavfi -i "sine=frequency=440:duration=$LENGTH" -c:v libx264 -preset ultrafast -pix_fmt yuv444p \
  -c:a pcm_s16le -shortest "$SRC"

sql -e "CREATE DATABASE $DB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
DBURL="$ADMIN/$DB"
STORE=$WORK/storage
mkdir -p "$STORE/videos"
SCHED_PORT=$(free_port)
# Starts the scheduler in the background (its pid in SCHED) and waits until it is ready.
start_scheduler() {
  DATABASE_URL=$DBURL SCHEDULER_ADDR=127.0.0.1:$SCHED_PORT STORAGE_DIR=$STORE RUST_LOG=warn \
    TRANSCODE_CONCURRENCY=1 DRAIN_TIMEOUT=5s "$BIN/scheduler" >> "$WORK/scheduler.log" 2>&1 &
  SCHED=$!
  PIDS+=("$SCHED")
  for _ in $(seq 200); do
    curl -fs "http://127.0.0.1:$SCHED_PORT/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$SCHED" 2>/dev/null || break
    sleep 0.05
  done
  cat "$WORK/scheduler.log" >&2
  exit 1
}
# Its first start applies the migrations; then it stops, so the idle run is idle.
start_scheduler
kill "$SCHED"
wait "$SCHED" 2>/dev/null || true
PLAY=11111111-1111-4111-8111-111111111111
UPLOAD=22222222-2222-4222-8222-222222222222
head -c $((64 << 20)) /dev/urandom > "$STORE/videos/$PLAY"
cp "$SRC" "$STORE/videos/$UPLOAD"
sql "$DB" <<SQL
INSERT INTO users (id, login_name, pwd_hash) VALUES (1, 'bench', 'x');
INSERT INTO video_info (id, author_id, name, display_ctime, state, visibility, size, content_type, uploaded_at) VALUES
 ('$PLAY', 1, 'play', 'x', 'ready', 'public', $((64 << 20)), 'video/mp4', UTC_TIMESTAMP(6)),
 ('$UPLOAD', 1, 'upload', 'x', 'uploaded', 'public', $(stat -c %s "$SRC"), 'video/quicktime', UTC_TIMESTAMP(6));
SQL

SS_PORT=$(free_port)
DATABASE_URL=$DBURL STREAM_ADDR=127.0.0.1:$SS_PORT STORAGE_DIR=$STORE \
  RATE_LIMIT_PER_SECOND=1000000 RATE_LIMIT_BURST=1000000 MAX_STREAMS=100000 \
  MAX_STREAMS_PER_IP=100000 RUST_LOG=warn "$BIN/streamserver" > "$WORK/stream.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do
  curl -fs "http://127.0.0.1:$SS_PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.05
done
curl -fs "http://127.0.0.1:$SS_PORT/readyz" >/dev/null || { cat "$WORK/stream.log" >&2; exit 1; }

write_wrk_scripts "$WORK"
URL=http://127.0.0.1:$SS_PORT/videos/$PLAY
# Prints the req/s of one wrk run of 1 MiB ranges.
ranges() {
  local out
  out=$(wrk -t2 -c64 -d"$DURATION" -s "$WORK/ranges.lua" "$URL")
  read -r _ reqs _ micros errors <<<"$(grep '^RESULT' <<<"$out")"
  [ "$errors" = 0 ] || { echo "wrk saw $errors errors" >&2; exit 1; }
  echo "$reqs $micros" | awk '{printf "%.1f", $1 / ($2 / 1e6)}'
}

echo "== idle: 1 MiB ranges, 64 connections, $DURATION"
IDLE1=$(ranges)
echo "   $IDLE1 req/s"

start_scheduler
sql "$DB" -e "INSERT INTO jobs (kind, video_id, dedupe_key) VALUES ('process_video', '$UPLOAD', 'process_video:$UPLOAD')"
# The transcode is under way once the scheduler has an ffmpeg child that writes libx264.
transcoding() { pgrep -P "$SCHED" -f 'libx264' >/dev/null; }
for _ in $(seq 600); do
  transcoding && break
  kill -0 "$SCHED" 2>/dev/null || { cat "$WORK/scheduler.log" >&2; exit 1; }
  sleep 0.1
done
transcoding || { echo "the scheduler never started ffmpeg" >&2; cat "$WORK/scheduler.log" >&2; exit 1; }
FFMPEG=$(pgrep -P "$SCHED" -f libx264 | head -1)

echo "== busy: the same, while the scheduler transcodes (ffmpeg pid $FFMPEG, nice $(ps -o ni= -p "$FFMPEG" | tr -d ' '))"
BUSY=$(ranges)
kill -0 "$FFMPEG" 2>/dev/null || {
  echo "ffmpeg finished before the busy run did: raise LENGTH" >&2
  exit 1
}
echo "   $BUSY req/s (load $(cut -d' ' -f1-3 /proc/loadavg))"
kill "$SCHED" 2>/dev/null || true
wait "$SCHED" 2>/dev/null || true
# The scheduler's drain stops its ffmpeg; wait for that, so the second idle run is idle.
for _ in $(seq 100); do kill -0 "$FFMPEG" 2>/dev/null || break; sleep 0.1; done

echo "== idle again"
IDLE2=$(ranges)
echo "   $IDLE2 req/s"

IDLE=$(echo "$IDLE1 $IDLE2" | awk '{printf "%.1f", ($1 + $2) / 2}')
printf 'busy / idle (mean of the two idle runs, %s req/s): %.2fx (goal >= 0.8x)\n' "$IDLE" \
  "$(echo "$BUSY / $IDLE" | bc -l)"
