#!/usr/bin/env bash
# What 2,000 half-sent requests cost each process, with the connection caps of issue 15 (item 7)
# and without them (CONNECTION_CAPS=off, which exists for this script alone: hyper's defaults of
# before, a 30 s header timeout, heads up to ~400 KiB, no per-client cap).
#
# Each process in turn is sent 2,000 connections from one client address (127.0.0.2, which is not
# a trusted proxy), each a request head that never ends: a request line, a Host line and
# HEAD_KIB (default 60) KiB of one header that is never finished. Once all are sent, the script
# waits SETTLE seconds (default 2, under the 10 s header timeout) and reads the process's RSS. It
# prints, per process and mode: the idle RSS, the RSS with the attack, the rise, the cost per
# connection still open, and how the 2,000 ended (still open, answered 429 and closed, closed).
#
#   bench/headers.sh                         release build, both modes
#   HEAD_KIB=1 bench/headers.sh              small half-sent heads: the cost of a bare connection
#   CONNS=500 bench/headers.sh
#
# Needs: the dev MariaDB (scripts/devdb start), python3, curl, mariadb client, ffmpeg (the
# scheduler's readiness). Raises its open-file limit to fit the connections. Everything listens on
# 127.0.0.1; everything it starts it stops.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
CONNS=${CONNS:-2000}
HEAD_KIB=${HEAD_KIB:-60}
SETTLE=${SETTLE:-2}
PROCS=(api scheduler streamserver web)

want_fds=$((CONNS + 1024))
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$want_fds" ]; then
  echo "headers: the hard open-file limit ($(ulimit -Hn)) is below $want_fds; lower CONNS" >&2
  exit 1
fi
ulimit -n "$want_fds"

cargo build --release -q -p api -p scheduler -p streamserver -p web

WORK=$(mktemp -d /tmp/headers-bench.XXXXXX)
PIDS=()
declare -A PID_OF
DB=bench_headers_$(date +%s)_$$
bench_admin

stop_all() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
cleanup() {
  stop_all
  admin_sql -e "DROP DATABASE IF EXISTS $DB" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
admin_sql -e "CREATE DATABASE $DB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"

# The attacker: opens the connections from 127.0.0.2, sends the unfinished heads, waits, reads the
# server's RSS, then closes everything. One line of results.
cat >"$WORK/halfsent.py" <<'PY'
import asyncio, sys

port, pid, conns, head_kib, settle = (int(a) for a in sys.argv[1:6])
HEAD = b"GET / HTTP/1.1\r\nHost: bench\r\nX-Pad: " + b"a" * (head_kib * 1024)

def rss_kib():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

ended = {"429": 0, "431": 0, "closed": 0, "refused": 0}

async def one(writers):
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.2", 0))
    except OSError:
        ended["refused"] += 1
        return
    writers.append(writer)
    try:
        writer.write(HEAD)
        await writer.drain()
    except OSError:
        pass
    try:
        answer = await reader.read(64)
    except OSError:
        answer = b""
    kind = answer[9:12].decode(errors="replace")
    ended[kind if kind in ended else "closed"] += 1

async def main():
    idle = rss_kib()
    writers, tasks = [], []
    for i in range(conns):
        tasks.append(asyncio.create_task(one(writers)))
        if i % 100 == 99:
            await asyncio.sleep(0.01)  # let the listener's backlog drain
    await asyncio.sleep(settle)
    loaded = rss_kib()
    still_open = sum(1 for t in tasks if not t.done())
    for w in writers:
        w.close()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(idle, loaded, still_open, ended["429"], ended["431"], ended["closed"] + ended["refused"])

asyncio.run(main())
PY

port_of() {
  case $1 in api) echo "$API_PORT" ;; streamserver) echo "$STREAM_PORT" ;; scheduler) echo "$SCHED_PORT" ;; web) echo "$WEB_PORT" ;; esac
}
wait_ready() {
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$(port_of "$1")/readyz" >/dev/null && return 0
    sleep 0.1
  done
  echo "$1 did not start:" >&2; tail -n 20 "$WORK/$1.log" >&2; exit 1
}

# run MODE: starts the four processes (CONNECTION_CAPS=MODE), attacks each in turn, stops them.
run() {
  local mode=$1 p pid
  API_PORT=$(free_port); STREAM_PORT=$(free_port); SCHED_PORT=$(free_port); WEB_PORT=$(free_port)
  mkdir -p "$WORK/storage"
  for p in "${PROCS[@]}"; do
    CONNECTION_CAPS=$mode DATABASE_URL=$ADMIN/$DB STORAGE_DIR=$WORK/storage RUST_LOG=error \
      API_ADDR=127.0.0.1:$API_PORT STREAM_ADDR=127.0.0.1:$STREAM_PORT \
      SCHEDULER_ADDR=127.0.0.1:$SCHED_PORT WEB_ADDR=127.0.0.1:$WEB_PORT \
      API_URL=http://127.0.0.1:$API_PORT STREAM_URL=http://127.0.0.1:$STREAM_PORT \
      "$CARGO_TARGET_DIR/release/$p" >"$WORK/$p.log" 2>&1 </dev/null &
    PIDS+=("$!")
    PID_OF[$p]=$!
    if [ "$p" = api ]; then wait_ready api; fi
  done
  for p in "${PROCS[@]}"; do wait_ready "$p"; done
  sleep 1
  for p in "${PROCS[@]}"; do
    pid=${PID_OF[$p]}
    read -r idle loaded open r429 r431 closed < <(python3 "$WORK/halfsent.py" "$(port_of "$p")" "$pid" \
      "$CONNS" "$HEAD_KIB" "$SETTLE")
    local rise=$((loaded - idle)) per=-
    [ "$open" -gt 0 ] && per=$((rise / open))
    printf '%-13s %-5s %9s %9s %9s %11s %7s %7s %7s %7s\n' "$p" "$mode" "$((idle / 1024)) MiB" \
      "$((loaded / 1024)) MiB" "$((rise / 1024)) MiB" "$per KiB" "$open" "$r429" "$r431" "$closed"
    echo "$p $mode $rise" >>"$WORK/rises"
    # Let the process settle back before the next one is attacked.
    sleep 1
  done
  stop_all
}

echo "headers: $CONNS half-sent requests of ${HEAD_KIB} KiB from 127.0.0.2 to each process, RSS after ${SETTLE} s"
printf '%-13s %-5s %9s %9s %9s %11s %7s %7s %7s %7s\n' process caps idle "attacked" rise "per open" open 429 431 closed
run on
run off
echo
for p in "${PROCS[@]}"; do
  on=$(awk -v p="$p" '$1 == p && $2 == "on" {print $3}' "$WORK/rises")
  off=$(awk -v p="$p" '$1 == p && $2 == "off" {print $3}' "$WORK/rises")
  awk -v p="$p" -v on="$on" -v off="$off" 'BEGIN {
    printf "%-13s RSS rise with caps %d MiB, without %d MiB: %.2fx\n", p, on / 1024, off / 1024, (off > 0 ? on / off : 0) }'
done
