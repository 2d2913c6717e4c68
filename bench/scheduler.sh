#!/usr/bin/env bash
# bench/scheduler.sh: how fast the real scheduler drains a backlog, and what it costs idle
# (SPEC section 8; bench/README.md).
#
#   bench/scheduler.sh      build release; start the scheduler once on a fresh database so it
#                           applies the migrations, stop it; queue JOBS (default 10,000)
#                           delete_video jobs, each with a small real video file and thumbnail
#                           in a temporary STORAGE_DIR; start it again and time until every job
#                           is done (budget < 10 s, measured from process start); check every
#                           file is gone; then read its CPU time (utime + stime from
#                           /proc/PID/stat) over IDLE seconds (default 60; budget ~0, where the
#                           Go original spins a whole core).
#
# Environment: CARGO_TARGET_DIR (default /work/targets/scheduler if it exists, else target/),
# JOBS (10000), IDLE (60), JOB_WORKERS / JOB_BATCH (the scheduler's defaults). It creates a
# throw-away database through var/mariadb/admin_url and drops it, and stops only the scheduler
# it started.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

JOBS=${JOBS:-10000}
IDLE=${IDLE:-60}
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  if [ -d /work/targets/scheduler ]; then export CARGO_TARGET_DIR=/work/targets/scheduler; else export CARGO_TARGET_DIR=$PWD/target; fi
fi

for tool in curl mariadb python3; do
  command -v "$tool" >/dev/null || { echo "bench/scheduler.sh: $tool is required" >&2; exit 1; }
done

echo "== building scheduler (release)"
cargo build --release -q -p scheduler
BIN=$CARGO_TARGET_DIR/release/scheduler

bench_admin
sql() { admin_sql -N "$@"; }

DB=scheduler_bench_$$
PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
STORAGE=$(mktemp -d)
LOG=$(mktemp)
PID=""
stop() {
  if [ -n "$PID" ]; then
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=""
  fi
}
cleanup() {
  stop
  sql -e "DROP DATABASE IF EXISTS \`$DB\`" || true
  rm -rf "$STORAGE" "$LOG"
}
trap cleanup EXIT
sql -e "CREATE DATABASE \`$DB\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"

start() {
  DATABASE_URL=$ADMIN/$DB SCHEDULER_ADDR=127.0.0.1:$PORT STORAGE_DIR=$STORAGE RUST_LOG=warn \
    DRAIN_TIMEOUT=10s "$BIN" >>"$LOG" 2>&1 &
  PID=$!
}
wait_ready() {
  for _ in $(seq 200); do
    curl -fs "$BASE/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$PID" 2>/dev/null || { cat "$LOG" >&2; exit 1; }
    sleep 0.05
  done
  echo "scheduler never became ready" >&2; cat "$LOG" >&2; exit 1
}

echo "== migrating (first start)"
start; wait_ready; stop

echo "== queueing $JOBS delete_video jobs with real files"
python3 - "$STORAGE" "$JOBS" >"$STORAGE/jobs.sql" <<'PY'
import os, sys, uuid
root, n = sys.argv[1], int(sys.argv[2])
ids = [str(uuid.uuid4()) for _ in range(n)]
for vid in ids:
    with open(os.path.join(root, "videos", vid), "wb") as f:
        f.write(os.urandom(4096))
    with open(os.path.join(root, "thumbnails", vid + ".jpg"), "wb") as f:
        f.write(b"\xff\xd8jpeg\xff\xd9")
for i in range(0, n, 1000):
    rows = ",".join(f"('delete_video','{v}','delete_video:{v}')" for v in ids[i:i + 1000])
    print(f"INSERT INTO jobs (kind, video_id, dedupe_key) VALUES {rows};")
PY
sql "$DB" <"$STORAGE/jobs.sql"
rm "$STORAGE/jobs.sql"
queued=$(sql "$DB" -e "SELECT COUNT(*) FROM jobs WHERE state = 'queued'")
files=$(find "$STORAGE/videos" -type f | wc -l)
echo "queued $queued jobs, $files video files"

echo "== draining"
t0=$(date +%s.%N)
start
done_count=0
while :; do
  done_count=$(sql "$DB" -e "SELECT COUNT(*) FROM jobs WHERE state = 'done'")
  [ "$done_count" -ge "$JOBS" ] && break
  kill -0 "$PID" 2>/dev/null || { echo "scheduler died" >&2; cat "$LOG" >&2; exit 1; }
  elapsed=$(echo "$(date +%s.%N) - $t0" | bc -l)
  if [ "$(echo "$elapsed > 120" | bc -l)" = 1 ]; then
    echo "gave up after 120 s with $done_count done" >&2; exit 1
  fi
  sleep 0.05
done
t1=$(date +%s.%N)
drain=$(echo "$t1 - $t0" | bc -l)
TCK=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
drain_cpu=$(echo "$(cpu) / $TCK" | bc -l)
left=$(find "$STORAGE/videos" "$STORAGE/thumbnails" -type f | wc -l)
other=$(sql "$DB" -e "SELECT COUNT(*) FROM jobs WHERE state <> 'done' OR attempts > 0")
printf 'drained %d delete_video jobs in %.2f s (budget < 10 s; from process start, includes start-up); %d files left; %d jobs not cleanly done\n' \
  "$JOBS" "$drain" "$left" "$other"
printf 'scheduler CPU during the drain: %.2f s; machine load average: %s\n' "$drain_cpu" "$(cut -d' ' -f1-3 /proc/loadavg)"

echo "== idle CPU over $IDLE s (default SCHEDULER_CRON, every 3 s)"
c0=$(cpu)
sleep "$IDLE"
c1=$(cpu)
idle_cpu=$(echo "($c1 - $c0) / $TCK" | bc -l)
RSS=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
printf 'idle: %.2f s of CPU over %d s (%.3f%% of one core; the Go original: 100%%); RSS %d MiB\n' \
  "$idle_cpu" "$IDLE" "$(echo "$idle_cpu * 100 / $IDLE" | bc -l)" "$((RSS / 1024))"
