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
