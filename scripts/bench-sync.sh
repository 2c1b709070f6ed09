#!/usr/bin/env bash
# SPEC 9, sync server: 100 users on loopback; wrk doing authenticated `GET /v1/records`
# while 8 clients run pull -> push cycles; on SQLite and on PostgreSQL (a temporary cluster
# started here as the `postgres` user when run as root, removed afterwards).
# Targets: >= 2,000 requests/s in all, p99 < 50 ms for both, no error, pull throughput
# >= 0.3x the same server's `/health`, server peak RSS < 100 MB.
#   scripts/bench-sync.sh            (BENCH_SYNC_BACKENDS="sqlite postgres", BENCH_SYNC_SECONDS=20,
#                                     BENCH_SYNC_USERS=100, BENCH_SYNC_CLIENTS=8, BENCH_SYNC_CONNS=8)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" --bin cdxs --example sync_load
CDXS=$ROOT/target/release/cdxs
LOAD=$ROOT/target/release/examples/sync_load
WORK=${BENCH_DIR:-$ROOT/target/bench}/sync
USERS=${BENCH_SYNC_USERS:-100}
CLIENTS=${BENCH_SYNC_CLIENTS:-8}
SECS=${BENCH_SYNC_SECONDS:-20}
CONNS=${BENCH_SYNC_CONNS:-8}
BACKENDS=${BENCH_SYNC_BACKENDS:-sqlite postgres}

if ! command -v wrk >/dev/null; then
  echo "bench-sync: installing wrk (Debian package)" >&2
  if [ "$(id -u)" -eq 0 ]; then apt-get install -y -qq wrk >&2 || { apt-get update -qq && apt-get install -y -qq wrk >&2; }
  else sudo apt-get install -y -qq wrk >&2; fi
fi

rm -rf "$WORK"; mkdir -p "$WORK"
cat > "$WORK/wrk.lua" <<'LUA'
-- GET $WRK_PATH, with the bearer tokens of $WRK_TOKENS (one per line) in turn.
local path = os.getenv("WRK_PATH") or "/health"
local tokens = {}
local file = os.getenv("WRK_TOKENS")
if file and file ~= "" then
  for line in io.lines(file) do if line ~= "" then tokens[#tokens + 1] = line end end
end
local n = math.random(1, 1000)
request = function()
  n = n + 1
  local headers = {}
  if #tokens > 0 then headers["Authorization"] = "Bearer " .. tokens[(n % #tokens) + 1] end
  return wrk.format("GET", path, headers)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "JSON {\"requests\":%d,\"rps\":%.1f,\"errors\":%d,\"non2xx\":%d,\"p50_ms\":%.2f,\"p99_ms\":%.2f}\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA

# wrk_json PATH SECONDS [TOKENS]
wrk_json() {
  WRK_PATH=$1 WRK_TOKENS=${3:-} wrk -t2 -c"$CONNS" -d"$2"s --latency -s "$WORK/wrk.lua" "$URL" \
    | sed -n 's/^JSON //p'
}
field() { python3 -c 'import json,sys;print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

PG_DIR=""
pg_run() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
pg_start() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -x "$bin/initdb" ] || "$ROOT/scripts/install-postgres.sh"
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  PG_BIN=$bin
  PG_DIR=$(mktemp -d /tmp/cdxs-bench-pg-XXXXXX)
  [ "$(id -u)" -eq 0 ] && chown postgres "$PG_DIR"
  pg_run "$bin/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --no-sync --no-instructions >/dev/null
  PG_PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  pg_run "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/data/log" -w \
    -o "-p $PG_PORT -k $PG_DIR/data -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
}
pg_stop() {
  if [ -n "$PG_DIR" ]; then
    pg_run "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null || true
    rm -rf "$PG_DIR"; PG_DIR=""
  fi
}
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  pg_stop
}
trap cleanup EXIT

echo "machine: $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "workload: $USERS users x 5 records (1.5 kB ciphertext each); wrk -t2 -c$CONNS authenticated GET /v1/records?since=CURSOR (the tokens of all users in turn) for ${SECS}s, while $CLIENTS clients (users 0-$((CLIENTS - 1))) run pull -> push cycles"
status=0
for backend in $BACKENDS; do
  echo; echo "## sync server on $backend"
  case $backend in
    sqlite) DATA=(--data "$WORK/sqlite/server.db") ;;
    postgres) pg_start; DATA=(--database "postgres://postgres@127.0.0.1:$PG_PORT/postgres") ;;
    *) echo "unknown backend $backend" >&2; exit 2 ;;
  esac
  for n in $(seq 0 $((USERS - 1))); do
    printf 'bench-password-%d\n' "$n" | "$CDXS" -q server user add "bench$n" --password-stdin "${DATA[@]}" >/dev/null
  done
  "$CDXS" server run --bind 127.0.0.1:0 "${DATA[@]}" --login-limit-ip 100000 --login-limit-user 1000 ${BENCH_SYNC_SERVER_ARGS:-} \
    --log-level warn > "$WORK/$backend.out" 2> "$WORK/$backend.log" &
  SERVER_PID=$!
  for _ in $(seq 100); do grep -q listening "$WORK/$backend.out" 2>/dev/null && break; sleep 0.1; done
  URL=$(grep -o 'http://[0-9.:]*' "$WORK/$backend.out")
  "$LOAD" setup "$URL" "$USERS" 5 "$WORK/tokens"
  HEALTH=$(wrk_json /health 10)
  # A client pulls since its cursor (revision 1 after the seeding push): what every
  # `sync pull` and every `watch` cycle sends. A full download (`since=0`: a new machine,
  # `pull --force`) is measured too.
  PULLS=$(wrk_json "/v1/records?since=1" 10 "$WORK/tokens")
  FULL=$(wrk_json "/v1/records?since=0" 10 "$WORK/tokens")
  WRK_PATH="/v1/records?since=1" WRK_TOKENS="$WORK/tokens" wrk -t2 -c"$CONNS" -d"$SECS"s --latency \
    -s "$WORK/wrk.lua" "$URL" > "$WORK/mixed-wrk.txt" &
  WRK_PID=$!
  CYCLES=$("$LOAD" run "$URL" "$WORK/tokens" "$CLIENTS" "$SECS")
  wait "$WRK_PID"
  MIXED=$(sed -n 's/^JSON //p' "$WORK/mixed-wrk.txt")
  RSS_KB=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
  pg_stop
  python3 - "$backend" "$HEALTH" "$PULLS" "$MIXED" "$CYCLES" "$RSS_KB" "$FULL" <<'PY' || status=1
import json, sys
backend, health, pulls, mixed, cycles, rss, full = sys.argv[1], *map(json.loads, sys.argv[2:6]), int(sys.argv[6]), json.loads(sys.argv[7])
total = mixed["rps"] + cycles["rps"]
ratio = pulls["rps"] / health["rps"]
rows = [
  ("floor: GET /health (wrk alone)", f'{health["rps"]:.0f} req/s, p99 {health["p99_ms"]:.2f} ms'),
  ("pulls: GET /v1/records?since=CURSOR (wrk alone)", f'{pulls["rps"]:.0f} req/s, p99 {pulls["p99_ms"]:.2f} ms, {ratio:.2f}x /health'),
  ("full download: GET /v1/records?since=0 (5 records)", f'{full["rps"]:.0f} req/s, p99 {full["p99_ms"]:.2f} ms, {full["rps"] / health["rps"]:.2f}x /health'),
  ("mixed: wrk GET /v1/records", f'{mixed["rps"]:.0f} req/s, p50 {mixed["p50_ms"]:.2f} ms, p99 {mixed["p99_ms"]:.2f} ms, errors {mixed["errors"]}, non-2xx {mixed["non2xx"]}'),
  ("mixed: client pull -> push cycles", f'{cycles["rps"]:.0f} req/s ({cycles["cycles"]} pushes, {cycles["conflicts"]} 409s), pull p99 {cycles["pull_p99_ms"]:.2f} ms, push p99 {cycles["push_p99_ms"]:.2f} ms, errors {cycles["errors"]}'),
  ("mixed: all requests", f'{total:.0f} req/s'),
  ("server peak RSS", f'{rss / 1024:.1f} MB'),
]
for k, v in rows:
  print(f"{k:<52} {v}")
checks = {
  ">= 2,000 requests/s in all": total >= 2000,
  "p99 < 50 ms (wrk and clients)": mixed["p99_ms"] < 50 and cycles["p99_ms"] < 50,
  "no error": all(x["errors"] == 0 for x in (health, pulls, full, mixed, cycles)) and all(x["non2xx"] == 0 for x in (health, pulls, full, mixed)),
  "pull throughput >= 0.3x /health": ratio >= 0.3,
  "peak RSS < 100 MB": rss < 100 * 1024,
}
for k, ok in checks.items():
  print(f"  {'ok  ' if ok else 'FAIL'} {k}")
sys.exit(0 if all(checks.values()) else 1)
PY
done
exit $status
