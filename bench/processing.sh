#!/usr/bin/env bash
# bench/processing.sh: what processing an upload costs beyond ffmpeg itself, how it scales with
# the video's length, and what each rendition costs in storage (issue 12; bench/README.md).
#
#   bench/processing.sh   build the scheduler (release); for each length of LENGTHS (default
#                         "15 30 60" seconds): make a 1080p 25 fps source with lavfi (H.264
#                         4:4:4 with PCM audio in MOV, a camera's kind of file, which must be
#                         transcoded), queue its process_video job on a fresh database, start
#                         the real scheduler and time until its make_ladder job is done
#                         (progressive rendition, five-rung HLS ladder, storyboard); then run
#                         the very ffmpeg and ffprobe commands the scheduler ran (recorded by a
#                         wrapper) bare, one after another, and time that. Prints both and the
#                         ratio (goal: pipeline / bare < 1.05), the same for CPU time (the
#                         scheduler's own and its children's, against the bare commands'), and
#                         storage bytes per minute of video for the original, the progressive
#                         rendition, the ladder and the storyboard.
#
# Both runs use `nice -n 10`, as the scheduler runs ffmpeg, so a busy machine treats them
# alike. Wall time on a shared machine moves with whatever else runs; CPU time much less, so
# both are printed, and with REPEAT=n each is measured n times, alternating, and the fastest
# kept. The source is synthetic (testsrc2 with a little noise, so the encoder works about as
# hard as on camera footage); storage figures for real footage differ with its content.
#
# Environment: LENGTHS ("15 30 60"), REPEAT (1), PROFILE (release | dev, default release),
# CARGO_TARGET_DIR (default target/), BENCH_DATABASE_URL (an admin URL without a database;
# default TEST_DATABASE_URL, else the dev MariaDB of scripts/devdb), BOUND (seconds, default
# 1800: the whole run is stopped after that). It creates throw-away databases and drops them,
# and stops only the scheduler it started.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

LENGTHS=${LENGTHS:-15 30 60}
REPEAT=${REPEAT:-1}
PROFILE=${PROFILE:-release}
BOUND=${BOUND:-1800}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
for tool in curl mariadb python3 ffmpeg ffprobe nice bc; do
  command -v "$tool" >/dev/null || { echo "bench/processing.sh: $tool is required" >&2; exit 1; }
done

if [ -z "${BOUNDED:-}" ]; then
  # The whole run within BOUND seconds: re-run under timeout, which stops it (and the trap
  # below cleans up) if a step hangs.
  BOUNDED=1 exec timeout --foreground -s TERM "$BOUND" "$0" "$@"
fi

echo "== building scheduler ($PROFILE)"
if [ "$PROFILE" = release ]; then
  cargo build --release -q -p scheduler
  BIN=$CARGO_TARGET_DIR/release/scheduler
else
  cargo build -q -p scheduler
  BIN=$CARGO_TARGET_DIR/debug/scheduler
fi

ADMIN=${BENCH_DATABASE_URL:-${TEST_DATABASE_URL:-}}
if [ -n "$ADMIN" ]; then
  hostport=${ADMIN#mysql://}
  creds=${hostport%@*}
  hostport=${hostport#*@}
  hostport=${hostport%%/*}
  DB_USER=${creds%%:*}
  DB_PASS=""
  if [[ $creds == *:* ]]; then DB_PASS=${creds#*:}; fi
  DB_HOST=${hostport%:*}
  DB_PORT=${hostport##*:}
  ADMIN=mysql://$creds@$hostport
else
  bench_admin
fi
sql() { admin_sql -N "$@"; }

WORK=$(mktemp -d)
PID=""
DBS=()
stop() {
  if [ -n "$PID" ]; then
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=""
  fi
}
cleanup() {
  stop
  for db in "${DBS[@]}"; do sql -e "DROP DATABASE IF EXISTS \`$db\`" || true; done
  [ -n "${KEEP:-}" ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

# Wrappers that record every command (working directory, program, arguments; NUL-separated)
# before running the real tool, so the bare run repeats exactly what the scheduler ran, and
# how long it took (start and end, in "$BENCH_COMMANDS.times"), so the time the pipeline spent
# outside ffmpeg and ffprobe is its wall time less theirs, measured in the same run and so
# untouched by whatever else the machine did meanwhile.
REAL_FFMPEG=$(command -v ffmpeg)
REAL_FFPROBE=$(command -v ffprobe)
for tool in ffmpeg ffprobe; do
  real=$REAL_FFMPEG
  [ "$tool" = ffprobe ] && real=$REAL_FFPROBE
  cat >"$WORK/$tool" <<SH
#!/bin/sh
printf '%s\0' "\$PWD" "$real" "\$@" "--end--" >> "\$BENCH_COMMANDS"
started=\$(date +%s.%N)
"$real" "\$@"
rc=\$?
echo "\$started \$(date +%s.%N) \$1" >> "\$BENCH_COMMANDS.times"
exit \$rc
SH
  chmod +x "$WORK/$tool"
done

# Runs the recorded commands of file $1 one after another under nice, as the scheduler does;
# prints the seconds they took together, their CPU seconds, and how many there were.
replay() {
  python3 - "$1" <<'PY'
import os, resource, subprocess, sys, time
fields = open(sys.argv[1], "rb").read().split(b"\0")
commands, current = [], []
for field in fields:
    if field == b"--end--":
        commands.append(current)
        current = []
    elif field or current:
        current.append(field)
# -version is the scheduler's start-up check, not processing.
commands = [c for c in commands if c[2:] != [b"-version"]]
def cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime
total, cpu0 = 0.0, cpu()
for cwd, *argv in commands:
    started = time.monotonic()
    subprocess.run([b"nice", b"-n", b"10", *argv], cwd=cwd, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    total += time.monotonic() - started
print(f"{total:.2f} {cpu() - cpu0:.2f} {len(commands)}")
PY
}

TCK=$(getconf CLK_TCK)
# The CPU seconds of process $1 itself and of its reaped children (ffmpeg, ffprobe).
cpu_of() { awk -v tck="$TCK" '{printf "%.2f %.2f", ($14 + $15) / tck, ($16 + $17) / tck}' "/proc/$1/stat"; }
min() { echo "if ($1 < $2) $1 else $2" | bc -l; }

# Sum of the sizes of the files matching the globs, in bytes.
bytes_of() { local n=0 f; for f in "$@"; do [ -f "$f" ] && n=$((n + $(stat -c %s "$f"))); done; echo "$n"; }

RESULTS=()
for LEN in $LENGTHS; do
  echo "== $LEN s source: making it (1920x1080, 25 fps, H.264 4:4:4 + PCM in MOV)"
  SRC=$WORK/source-$LEN.mov
  ffmpeg -v error -y -f lavfi -i "testsrc2=size=1920x1080:rate=25:duration=$LEN,noise=alls=4:allf=t" \
    -f lavfi -i "sine=frequency=440:duration=$LEN" -c:v libx264 -preset ultrafast -pix_fmt yuv444p \
    -c:a pcm_s16le -shortest "$SRC"

  DB=processing_bench_${$}_$LEN
  DBS+=("$DB")
  STORAGE=$WORK/storage-$LEN
  PORT=$(free_port)
  LOG=$WORK/scheduler-$LEN.log
  COMMANDS=$WORK/commands-$LEN
  : >"$COMMANDS"
  start() {
    BENCH_COMMANDS=$COMMANDS DATABASE_URL=$ADMIN/$DB SCHEDULER_ADDR=127.0.0.1:$PORT \
      STORAGE_DIR=$STORAGE FFMPEG=$WORK/ffmpeg FFPROBE=$WORK/ffprobe RUST_LOG=info \
      DRAIN_TIMEOUT=10s "$BIN" >>"$LOG" 2>&1 &
    PID=$!
  }
  wait_ready() {
    for _ in $(seq 400); do
      curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && return 0
      kill -0 "$PID" 2>/dev/null || { cat "$LOG" >&2; exit 1; }
      sleep 0.05
    done
    echo "scheduler never became ready" >&2; cat "$LOG" >&2; exit 1
  }
  # One run of the pipeline on a fresh copy of the upload; sets PIPE_WALL, PIPE_OWN (the
  # scheduler's CPU seconds), PIPE_CHILDREN (its tools' CPU seconds), VID.
  pipeline() {
    rm -rf "$STORAGE"
    mkdir -p "$STORAGE/videos"
    sql -e "DROP DATABASE IF EXISTS \`$DB\`; CREATE DATABASE \`$DB\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    # First start: migrations; then the upload, as the streamserver leaves it.
    start; wait_ready; stop
    VID=$(python3 -c 'import uuid; print(uuid.uuid4())')
    cp "$SRC" "$STORAGE/videos/$VID"
    local size state t0 t1 cpu
    size=$(stat -c %s "$SRC")
    sql "$DB" -e "INSERT INTO users (login_name, pwd_hash) VALUES ('bench', 'x');
      INSERT INTO video_info (id, author_id, name, display_ctime, state, size, content_type,
        uploaded_at) VALUES ('$VID', LAST_INSERT_ID(), 'bench', 'now', 'uploaded', $size,
        'video/quicktime', UTC_TIMESTAMP(6));
      INSERT INTO jobs (kind, video_id, dedupe_key) VALUES
        ('process_video', '$VID', 'process_video:$VID');"
    : >"$COMMANDS"
    : >"$COMMANDS.times"
    t0=$(date +%s.%N)
    start
    # Waiting must not compete with ffmpeg: a file test every 50 ms until the storyboard (the
    # ladder job's last output) is there, a database query only every 2 s meanwhile.
    local polls=0
    while :; do
      if [ -e "$STORAGE/storyboards/$VID.vtt" ] || [ $((polls % 40)) = 0 ]; then
        state=$(sql "$DB" -e "SELECT CONCAT(
          (SELECT COUNT(*) FROM jobs WHERE kind = 'make_ladder' AND state = 'done'), ' ',
          (SELECT COUNT(*) FROM jobs WHERE state = 'failed'))")
        [ "${state%% *}" = 1 ] && break
        if [ "${state##* }" != 0 ]; then
          echo "a job failed:" >&2
          sql "$DB" -e "SELECT kind, last_error FROM jobs" >&2
          exit 1
        fi
        kill -0 "$PID" 2>/dev/null || { echo "scheduler died" >&2; cat "$LOG" >&2; exit 1; }
      fi
      polls=$((polls + 1))
      sleep 0.05
    done
    t1=$(date +%s.%N)
    cpu=$(cpu_of "$PID")
    stop
    PIPE_WALL=$(echo "$t1 - $t0" | bc -l)
    PIPE_OWN=${cpu% *}
    PIPE_CHILDREN=${cpu#* }
    # The tools' own wall time inside the pipeline (the start-up -version checks included).
    PIPE_TOOLS=$(awk '{s += $2 - $1} END {printf "%.2f", s}' "$COMMANDS.times")
  }

  best_pipe="" best_bare="" best_pipe_cpu="" best_bare_cpu="" own="" outside=""
  for run in $(seq "$REPEAT"); do
    echo "== $LEN s source, run $run: the pipeline (real scheduler: probe, transcode, thumbnail, ladder, storyboard)"
    pipeline
    read -r rungs storyboard <<<"$(sql "$DB" -e "SELECT
      (SELECT COUNT(*) FROM video_renditions WHERE video_id = '$VID' AND ready),
      (SELECT has_storyboard FROM video_info WHERE id = '$VID')")"
    pipe_cpu=$(echo "$PIPE_OWN + $PIPE_CHILDREN" | bc -l)
    echo "== $LEN s source, run $run: the same commands, bare"
    read -r bare bare_cpu count <<<"$(replay "$COMMANDS")"
    out=$(echo "$PIPE_WALL - $PIPE_TOOLS" | bc -l)
    printf '   run %d: pipeline %.2f s wall, of which ffmpeg/ffprobe %.2f s and the rest %.2f s; %.2f s CPU (scheduler %.2f s); bare %.2f s wall, %.2f s CPU; load %s\n' \
      "$run" "$PIPE_WALL" "$PIPE_TOOLS" "$out" "$pipe_cpu" "$PIPE_OWN" "$bare" "$bare_cpu" "$(cut -d' ' -f1-3 /proc/loadavg)"
    if [ -z "$best_pipe" ]; then
      best_pipe=$PIPE_WALL best_bare=$bare best_pipe_cpu=$pipe_cpu best_bare_cpu=$bare_cpu own=$PIPE_OWN
      outside=$out tools=$PIPE_TOOLS
    else
      if [ "$(echo "$out < $outside" | bc -l)" = 1 ]; then outside=$out tools=$PIPE_TOOLS; fi
      best_pipe=$(min "$best_pipe" "$PIPE_WALL")
      best_bare=$(min "$best_bare" "$bare")
      best_pipe_cpu=$(min "$best_pipe_cpu" "$pipe_cpu")
      best_bare_cpu=$(min "$best_bare_cpu" "$bare_cpu")
      own=$(min "$own" "$PIPE_OWN")
    fi
  done
  ratio=$(echo "$best_pipe / $best_bare" | bc -l)
  cpu_ratio=$(echo "$best_pipe_cpu / $best_bare_cpu" | bc -l)
  overhead=$(echo "$outside * 100 / $tools" | bc -l)
  printf '%3d s source: pipeline %7.2f s wall, the same %d commands bare %7.2f s: ratio %.3f (%+.1f%%)\n' \
    "$LEN" "$best_pipe" "$count" "$best_bare" "$ratio" "$(echo "($ratio - 1) * 100" | bc -l)"
  printf '              time outside ffmpeg/ffprobe within the pipeline %.2f s = %.1f%% of theirs (goal < 5%%)\n' \
    "$outside" "$overhead"
  printf '              CPU %.2f s vs %.2f s bare: ratio %.3f; the scheduler process itself %.2f s; %d rungs, storyboard %s\n' \
    "$best_pipe_cpu" "$best_bare_cpu" "$cpu_ratio" "$own" "$rungs" "$storyboard"
  RESULTS+=("$(printf '%3d s: pipeline %7.2f s (%.2f s per second of video), bare %7.2f s, ratio %.3f; outside the tools %.2f s (%.1f%%); CPU ratio %.3f' \
    "$LEN" "$best_pipe" "$(echo "$best_pipe / $LEN" | bc -l)" "$best_bare" "$ratio" "$outside" "$overhead" "$cpu_ratio")")

  per_min() { echo "$1 * 60 / $LEN / 1048576" | bc -l; }
  original=$(bytes_of "$STORAGE/originals/$VID")
  progressive=$(bytes_of "$STORAGE/videos/$VID")
  ladder=$(bytes_of "$STORAGE/hls/$VID"/*)
  board=$(bytes_of "$STORAGE/storyboards/$VID".jpg "$STORAGE/storyboards/$VID".vtt)
  thumb=$(bytes_of "$STORAGE/thumbnails/$VID.jpg")
  printf '       storage per minute of video (MiB): original %.1f, progressive %.1f, ladder %.1f (%d rungs), storyboard %.3f, thumbnail %.3f\n' \
    "$(per_min "$original")" "$(per_min "$progressive")" "$(per_min "$ladder")" "$rungs" \
    "$(per_min "$board")" "$(per_min "$thumb")"
  for f in "$STORAGE/hls/$VID"/*.mp4; do
    printf '         %s: %.1f MiB per minute\n' "$(basename "$f")" "$(per_min "$(bytes_of "$f")")"
  done
  [ -n "${KEEP:-}" ] || rm -rf "$STORAGE" "$SRC"
done

echo "== scaling"
printf '%s\n' "${RESULTS[@]}"
