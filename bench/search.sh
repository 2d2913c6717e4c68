#!/usr/bin/env bash
# bench/search.sh: search over 100,000 public videos (a tenth with Chinese titles) at 16
# connections, side by side with the public feed `GET /videos` on the same data and database
# (issue 10; bench/README.md). Prints requests/s and p99 for each and their ratio.
#
#   bench/search.sh     build the release api, create NVIDEOS (100000) videos through the api
#                       itself (so the postings are written by the real code), mark them ready,
#                       then wrk -c16 for DURATION (10s) on
#                         GET /search?q=<one of a fixed set of English and Chinese queries>
#                         GET /videos
#                       signed out, both with limit=20.
#
# Environment: CARGO_TARGET_DIR (default target/), NVIDEOS (100000), DURATION (10s),
# CONNECTIONS (16), THREADS (2), WARMUP (3s, each route before the measured runs), KEEP_DB (set:
# keep the database afterwards, to EXPLAIN queries on it). Seeding takes a few minutes; every
# load run is bounded by DURATION. It creates a throw-away database through var/mariadb/admin_url
# and drops it, and stops only the api it started. Budget (issue 10): search p99 under 50 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

NVIDEOS=${NVIDEOS:-100000}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}

for tool in wrk curl jq mariadb; do
  command -v "$tool" >/dev/null || { echo "bench/search.sh: $tool is required" >&2; exit 1; }
done

echo "== building api (release)"
cargo build --release -q -p api
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/api

bench_admin
sql() { admin_sql -N -e "$1"; }

DB=search_bench_$$
PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
WORK=$(mktemp -d)
API_PID=""
cleanup() {
  [ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null || true
  if [ -n "${KEEP_DB:-}" ]; then
    echo "kept database $DB (drop it when done: DROP DATABASE \`$DB\`)"
  else
    sql "DROP DATABASE IF EXISTS \`$DB\`" || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
sql "CREATE DATABASE \`$DB\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"

# Rate limits off: this measures the search itself, not the limiter.
DATABASE_URL=$ADMIN/$DB API_ADDR=127.0.0.1:$PORT RUST_LOG=warn \
  AUTH_RATE_PER_MIN=100000 AUTH_BURST=100000 READ_RATE_PER_MINUTE=0 SEARCH_RATE_PER_MINUTE=0 \
  "$BIN" >"$WORK/api.log" 2>&1 &
API_PID=$!
for _ in $(seq 100); do
  curl -fs "$BASE/readyz" >/dev/null 2>&1 && break
  kill -0 "$API_PID" 2>/dev/null || { cat "$WORK/api.log" >&2; exit 1; }
  sleep 0.1
done

NAME=bench
SID=$(curl -fs -X POST "$BASE/user" -H 'content-type: application/json' \
  -d "{\"user_name\":\"$NAME\",\"pwd\":\"bench-password\"}" | jq -r .session_id)

# Titles and queries come from one generator (seed.py, below): 5,000 made-up English-like words
# and 2,000 two-character Chinese words, each drawn with Zipf's law (the k-th word is k times
# rarer than the first), as words in real titles are. Titles have three to six words, one in ten
# is Chinese, with a running number so no two are alike; they are created through the api itself
# by 16 threads on kept-alive connections. Queries are one or two words drawn with the same law
# (common words are searched more often), a tenth Chinese, the last English word as a prefix
# ("mount" for "mountain") half the time; they are written to queries.txt for wrk. The worst case
# is measured apart: the most common word (in about a third of the titles), which an index that
# scores every match before sorting (InnoDB FULLTEXT, which search used before) reads in full.
cat > "$WORK/seed.py" <<'PY'
import http.client, json, random, sys, threading, urllib.parse
port, name, sid, count, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
syl = ("ka lo mi ren ta vo shi ne bar do fi gu har jo ki lu mar no pe qua ri sen tu vi wen xo "
       "ya zu bel cor").split()
han = ("的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对"
       "可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公"
       "同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正"
       "名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气")
def en_word(k):
    w = syl[k % len(syl)] + syl[k // len(syl) % len(syl)]
    return w + syl[k // len(syl) ** 2 % len(syl)] if k >= len(syl) ** 2 else w
def zh_word(k): return han[k % len(han)] + han[k // len(han) % len(han)]
def zipf(n):
    weights = [1 / k for k in range(1, n + 1)]
    return lambda rnd: rnd.choices(range(n), weights)[0]
en_rank, zh_rank = zipf(5000), zipf(2000)
def title(rnd, n):
    if rnd.randrange(10) == 0:
        return "".join(zh_word(zh_rank(rnd)) for _ in range(rnd.randint(3, 6))) + f" {n}"
    return " ".join(en_word(en_rank(rnd)) for _ in range(rnd.randint(3, 6))) + f" {n}"
def worker(t, threads):
    rnd, conn = random.Random(t), http.client.HTTPConnection("127.0.0.1", port)
    for n in range(t, count, threads):
        body = json.dumps({"name": title(rnd, n), "visibility": "public"})
        conn.request("POST", f"/user/{name}/videos", body,
                     {"Content-Type": "application/json", "X-Session-Id": sid})
        resp = conn.getresponse(); resp.read()
        if resp.status != 201: raise SystemExit(f"create answered {resp.status}")
threads = [threading.Thread(target=worker, args=(t, 16)) for t in range(16)]
for th in threads: th.start()
for th in threads: th.join()
rnd = random.Random(99)
with open(out, "w") as f:
    for _ in range(2000):
        if rnd.randrange(10) == 0:
            q = "".join(zh_word(zh_rank(rnd)) for _ in range(rnd.randint(1, 2)))
        else:
            q = " ".join(en_word(en_rank(rnd)) for _ in range(rnd.randint(1, 2)))
            if rnd.randrange(2) == 0 and len(q) > 5: q = q[:-1]
        f.write(urllib.parse.quote(q) + "\n")
print(en_word(0))
PY
echo "== creating $NVIDEOS videos through the api"
started=$(date +%s)
COMMON=$(python3 "$WORK/seed.py" "$PORT" "$NAME" "$SID" "$NVIDEOS" "$WORK/queries.txt")
sql "UPDATE \`$DB\`.video_info SET state = 'ready', size = 1048576, content_type = 'video/mp4',
     duration_ms = 10000, width = 1280, height = 720, has_thumbnail = TRUE"
COUNT=$(sql "SELECT COUNT(*) FROM \`$DB\`.video_info")
CHINESE=$(sql "SELECT COUNT(*) FROM \`$DB\`.video_info WHERE name REGEXP '[一-龥]'")
echo "   $COUNT videos ($CHINESE with Chinese titles) in $(($(date +%s) - started)) s"

cat > "$WORK/search.lua" <<LUA
local queries = {}
for line in io.lines("$WORK/queries.txt") do queries[#queries + 1] = line end
local i = 0
function setup(thread) i = i + 1; thread:set("start", i * 997) end
function init(args) i = start end
function request()
  i = i % #queries + 1
  return wrk.format("GET", "/search?limit=20&q=" .. queries[i])
end
LUA
# The worst case must find something: a query answered with nothing would flatter the figure.
n=$(curl -fs "$BASE/search?limit=20&q=$COMMON" | jq '.videos | length')
[ "$n" -gt 0 ] || { echo "bench/search.sh: q=$COMMON found nothing" >&2; exit 1; }
# The videos the worst case matches: every video with a posting of a word that begins with it.
MATCHES=$(sql "SELECT COUNT(DISTINCT video_id) FROM \`$DB\`.search_postings
               WHERE term LIKE 'w!_$COMMON%' ESCAPE '!'")

run() {
  local label=$1 out rps p99 non2xx
  shift
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  printf '%-28s %10s req/s   p99 %8s%s\n' "$label" "$rps" "$p99" "${non2xx:+   NON-2XX: $non2xx}"
  echo "$rps" >"$WORK/$label.rps"
}

# Seeding leaves the caches full of what writing touched; both routes get the same short warm-up
# so that neither pays for reading its pages in for the first time during its measured run.
echo "== warming up (${WARMUP:-3s} each)"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP:-3s}" -s "$WORK/search.lua" "$BASE" >/dev/null
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP:-3s}" "$BASE/videos?limit=20" >/dev/null
echo "== wrk -t$THREADS -c$CONNECTIONS -d$DURATION, signed out, pages of 20"
run search -s "$WORK/search.lua" "$BASE"
run feed "$BASE/videos?limit=20"
run "search, worst case" "$BASE/search?limit=20&q=$COMMON"
echo "   (worst case: q=$COMMON, the most common word, in $MATCHES of $COUNT titles)"
printf 'search / feed: %.2fx\n' "$(echo "$(cat "$WORK/search.rps") / $(cat "$WORK/feed.rps")" | bc -l)"
echo "api RSS after load: $(($(rss_kib "$API_PID") / 1024)) MiB"
