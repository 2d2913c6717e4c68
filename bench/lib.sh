# Helpers shared by the bench scripts; sourced, never run on its own.
# Call from the repository root, after `set -euo pipefail`.

# The dev MariaDB's admin connection (scripts/devdb writes var/mariadb/admin_url):
# sets ADMIN (mysql://user[:pass]@host:port), DB_HOST, DB_PORT, DB_USER, DB_PASS.
bench_admin() {
  scripts/devdb start >/dev/null
  ADMIN=$(cat var/mariadb/admin_url)
  local hostport=${ADMIN#mysql://} creds
  creds=${hostport%@*}
  hostport=${hostport#*@}
  DB_USER=${creds%%:*}
  DB_PASS=""
  if [[ $creds == *:* ]]; then DB_PASS=${creds#*:}; fi
  DB_HOST=${hostport%:*}
  DB_PORT=${hostport##*:}
}

# The mariadb client as that admin; arguments are the client's own (-e "SQL", -N, a database).
admin_sql() { MYSQL_PWD=$DB_PASS mariadb -h "$DB_HOST" -P "$DB_PORT" -u "$DB_USER" "$@"; }

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Resident memory of a process, in KiB.
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# Writes the wrk scripts into directory $1: ranges.lua asks for a random 1 MiB range of a
# 64 MiB file, plain.lua for the whole resource; both print "RESULT requests bytes micros errors".
write_wrk_scripts() {
  cat > "$1/ranges.lua" <<'LUA'
local size = 64 * 1024 * 1024
local chunk = 1024 * 1024
local counter = 0
function setup(thread) counter = counter + 1; thread:set("seed", counter) end
function init(args) math.randomseed(os.time() + seed) end
function request()
  local first = math.random(0, size - chunk)
  return wrk.format("GET", nil, { Range = "bytes=" .. first .. "-" .. (first + chunk - 1) })
end
function done(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d\n", summary.requests, summary.bytes,
    summary.duration, summary.errors.status + summary.errors.read + summary.errors.connect))
end
LUA
  grep -v '^function request' "$1/ranges.lua" | sed '/^  local first/,/^end/d' > "$1/plain.lua"
}

# A bench's scratch space: WORK (a temporary directory), PIDS (what it starts; add to it), DB (a
# database name of its own, prefixed $1), the admin connection (bench_admin) and `sql`; on exit
# the processes in PIDS are stopped, the database dropped and WORK removed.
bench_workspace() {
  WORK=$(mktemp -d "/tmp/$1.XXXXXX")
  PIDS=()
  DB=${1//-/_}_$(date +%s)_$$
  bench_admin
  sql() { admin_sql "$@"; }
  trap bench_cleanup EXIT
}

bench_cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  admin_sql -e "DROP DATABASE IF EXISTS $DB" 2>/dev/null || true
  rm -rf "$WORK"
}

# wait_ready PORT NAME [PATH]: waits up to 20 s for http://127.0.0.1:PORT PATH (default /readyz)
# to answer 2xx; otherwise prints $WORK/NAME.log and exits.
wait_ready() {
  for _ in $(seq 200); do
    curl -sf -o /dev/null "http://127.0.0.1:$1${3:-/readyz}" && return 0
    sleep 0.1
  done
  echo "$2 did not start:" >&2; cat "$WORK/$2.log" >&2; exit 1
}
