#!/usr/bin/env bash
# Helpers shared by scripts/deploy and scripts/devdb, and checked by scripts/test-pidfiles; sourced,
# never run. What is here: the one rule for trusting a pid file, and the duration syntax the
# processes use. Anything only one script needs stays in that script.
#
# Why pid files need a rule: a pid file outlives its process (a crash, a SIGKILL, a reboot) and the
# kernel hands the number out again, so trusting the number alone made `start` skip a service that
# was not running and `stop` signal a stranger. A zombie, which `kill -0` reports alive, is a process
# that has already exited and must count as stopped.

# pid_running PID: PID is a process that exists and is not a zombie (exited, not yet reaped).
pid_running() {
  local stat state
  [[ ${1:-} =~ ^[1-9][0-9]*$ ]] || return 1
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  # proc(5): field 3 is the state; field 2, the command name in parentheses, may hold spaces and
  # parentheses itself, so cut after the last ") ".
  state=${stat##*) }
  state=${state%% *}
  [ "$state" != Z ] && [ "$state" != X ]
}

# pid_is_ours PID EXE [ARG]: PID is running (pid_running), its executable (/proc/PID/exe) is EXE,
# and, when ARG is given, one of its command-line arguments is exactly ARG. EXE may be spelled
# through symlinks; it is compared as the kernel reports it. A binary replaced on disk while it
# runs (scripts/build renames the new one over it) reads "EXE (deleted)" and is still ours. A
# process this user may not inspect is not ours.
pid_is_ours() {
  local pid=$1 want=${2:-} exe arg
  pid_running "$pid" || return 1
  [ -n "$want" ] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  want=$(readlink -f -- "$want") || return 1
  [ "$exe" = "$want" ] || [ "$exe" = "$want (deleted)" ] || return 1
  [ $# -ge 3 ] || return 0
  local -a args
  { mapfile -d '' -t args <"/proc/$pid/cmdline"; } 2>/dev/null || return 1
  for arg in "${args[@]}"; do
    [ "$arg" = "$3" ] && return 0
  done
  return 1
}

# pidfile_pid FILE EXE [ARG]: prints the pid held in FILE when pid_is_ours PID EXE [ARG] holds.
# Otherwise FILE is stale (absent, garbage, a dead pid, a zombie, someone else's process): it is
# removed and the call fails, so the caller treats the service as stopped.
pidfile_pid() {
  local file=$1 pid
  [ -f "$file" ] || return 1
  { pid=$(<"$file"); } 2>/dev/null || pid=
  pid=${pid//[[:space:]]/}
  if pid_is_ours "$pid" "${@:2}"; then
    echo "$pid"
    return 0
  fi
  rm -f -- "$file"
  return 1
}

# now_ms: milliseconds since the epoch, for deadlines.
now_ms() {
  if [ -n "${EPOCHREALTIME:-}" ]; then
    local t=${EPOCHREALTIME/[.,]/}
    echo $((10#$t / 1000))
  else
    date +%s%3N
  fi
}

# await_exit MS PID EXE [ARG]: polls until PID is no longer ours (it exited, or is a zombie); fails
# when it still is after MS milliseconds.
await_exit() {
  local deadline=$(($(now_ms) + $1))
  shift
  while pid_is_ours "$@"; do
    [ "$(now_ms)" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}

# duration_ms VALUE: prints VALUE in milliseconds, read the way every process reads a duration
# (svc/src/config.rs, parse_duration): a whole number and an optional unit ms, s, m, h or d, with
# spaces allowed around both; a bare number is seconds. So 2m is 120000, 500ms is 500, 30 is 30000.
# Anything else (empty, negative, fractions, other units such as M) fails, as it does there.
duration_ms() {
  local re='^[[:space:]]*([0-9]+)[[:space:]]*(ms|s|m|h|d)?[[:space:]]*$' n factor
  [[ ${1:-} =~ $re ]] || return 1
  # Strip leading zeros, so bash does not read 010 as octal.
  n=${BASH_REMATCH[1]}
  n=${n#"${n%%[!0]*}"}
  n=${n:-0}
  case ${BASH_REMATCH[2]} in
    ms) factor=1 ;;
    '' | s) factor=1000 ;;
    m) factor=60000 ;;
    h) factor=3600000 ;;
    d) factor=86400000 ;;
  esac
  # Bash integers are 64-bit: cap absurd values at about 31,000 years instead of overflowing.
  local cap=1000000000000000
  if [ ${#n} -gt 15 ] || ((n > cap / factor)); then
    echo "$cap"
  else
    echo $((n * factor))
  fi
}
