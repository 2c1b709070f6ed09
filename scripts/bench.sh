#!/usr/bin/env bash
# Benchmarks for SPEC section 9 (see BENCHMARKS.md). Builds release, generates synthetic
# workloads in a scratch folder, and times cdxs against floors (`true`, `find`) measured
# in the same run. Uses hyperfine when installed, else a plain timing loop.
#   scripts/bench.sh [section...]     sections: accounts homes sessions (default: all)
# The sessions section needs the real Codex (scripts/install-codex.sh) and ~3 GB of disk for
# 5 x 10,000 synthetic threads and a 1 GB rollout (BENCH_HOMES_N, BENCH_THREADS, BENCH_BIG_MB).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
CDXS=$ROOT/target/release/cdxs
WORK=${BENCH_DIR:-$ROOT/target/bench}
RUNS=${BENCH_RUNS:-30}
mkdir -p "$WORK"
SECTIONS=${*:-accounts homes sessions}

# time_cmd LABEL CMD... : mean milliseconds over $RUNS runs (after 3 warm-ups)
time_cmd() {
  local label=$1; shift
  if command -v hyperfine >/dev/null; then
    hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$WORK/h.json" "$*" >/dev/null 2>&1
    local mean
    mean=$(python3 -c 'import json;print("%.2f"%(json.load(open("'"$WORK/h.json"'"))["results"][0]["mean"]*1000))')
    printf '%-48s %10s ms\n' "$label" "$mean"
  else
    for _ in 1 2 3; do "$@" >/dev/null 2>&1; done
    local start end
    start=$(date +%s%N)
    for _ in $(seq "$RUNS"); do "$@" >/dev/null 2>&1; done
    end=$(date +%s%N)
    printf '%-48s %10.2f ms\n' "$label" "$(echo "($end - $start) / $RUNS / 1000000" | bc -l)"
  fi
}

echo "machine: $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "runs per figure: $RUNS"
# What `cargo install --path .` installs (target: under 25 MB, stripped).
echo "release binary: $(stat -c %s "$CDXS") bytes ($(du -h "$CDXS" | cut -f1))"

for section in $SECTIONS; do
  case $section in
  accounts)
    echo; echo "## accounts: vault with 200 accounts"
    export CDXS_STATE_DIR=$WORK/accounts-state HOME=$WORK/accounts-home
    rm -rf "$CDXS_STATE_DIR" "$HOME"; mkdir -p "$HOME"
    for i in $(seq 200); do printf 'sk-bench-%06d' "$i" | "$CDXS" account add-api-key --api-key-stdin -q; done
    time_cmd "floor: true" true
    time_cmd "cdxs account list --json (200 accounts)" "$CDXS" account list --json
    ID=$("$CDXS" account list --json | python3 -c 'import json,sys;print(json.load(sys.stdin)["accounts"][100]["id"])')
    time_cmd "cdxs account show <id>" "$CDXS" account show "$ID"
    ;;
  homes)
    # SPEC 9: `run` overhead over `env CODEX_HOME=... true`, and `plan` on many homes.
    NH=${BENCH_HOMES:-100}
    echo; echo "## homes: $NH homes, each bound to its own API-key account, converged"
    export CDXS_STATE_DIR=$WORK/homes-state HOME=$WORK/homes-home
    rm -rf "$CDXS_STATE_DIR" "$HOME" "$WORK/homes"; mkdir -p "$HOME"
    M=$WORK/homes.yaml
    { echo "version: 1"; echo "accounts:"; } > "$M"
    for i in $(seq "$NH"); do
      printf 'sk-bench-home-%06d' "$i" | "$CDXS" account add-api-key --api-key-stdin -q
    done
    "$CDXS" account list --json | python3 -c '
import json, sys
for i, a in enumerate(json.load(sys.stdin)["accounts"]):
    print("  k%d: { id: %s }" % (i, a["id"]))' >> "$M"
    echo "homes:" >> "$M"
    for i in $(seq 0 $((NH - 1))); do
      echo "  h$i: { path: $WORK/homes/h$i, account: k$i }" >> "$M"
    done
    "$CDXS" -f "$M" apply --yes -q >/dev/null
    "$CDXS" -f "$M" plan --detailed-exitcode >/dev/null
    time_cmd "floor: env CODEX_HOME=... true" env CODEX_HOME="$WORK/homes/h50" true
    time_cmd "cdxs run --home h50 -- true" "$CDXS" -f "$M" run --home h50 -- true
    time_cmd "cdxs plan --offline ($NH homes, no changes)" "$CDXS" -f "$M" plan --offline
    time_cmd "cdxs status ($NH homes)" "$CDXS" -f "$M" status
    ;;
  sessions)
    NH=${BENCH_HOMES_N:-5} NT=${BENCH_THREADS:-10000} BIG=${BENCH_BIG_MB:-1024}
    CODEX=$ROOT/target/codex-cli/0.171.0/node_modules/.bin/codex
    [ -x "$CODEX" ] || "$ROOT/scripts/install-codex.sh"
    OUT=$WORK/synth
    echo; echo "## sessions: $NH homes x $NT threads cloned from a real Codex 0.171 session, one ${BIG} MB rollout"
    if [ ! -f "$OUT/.done-$NH-$NT-$BIG" ]; then
      rm -rf "$OUT"
      cargo build --release --quiet --example synth_homes --manifest-path "$ROOT/Cargo.toml"
      "$ROOT/target/release/examples/synth_homes" --codex "$CODEX" --out "$OUT" --homes "$NH" --threads "$NT" --big-rollout-mb "$BIG" > "$OUT.list"
      touch "$OUT/.done-$NH-$NT-$BIG"
    fi
    BIG_ID=$(awk '$1 == "big" {print $2}' "$OUT.list"); BIG_PATH=$(awk '$1 == "big" {print $3}' "$OUT.list")
    export CDXS_STATE_DIR=$WORK/sessions-state HOME=$WORK/sessions-home
    rm -rf "$CDXS_STATE_DIR" "$HOME"; mkdir -p "$HOME"
    M=$WORK/sessions.yaml
    { echo "version: 1"; echo "homes:"; } > "$M"
    for i in $(seq 0 $((NH - 1))); do echo "  h$i: { path: $OUT/home-$i }" >> "$M"; done
    printf 'sessions:\n  auto_repair: true\n  trash_max_age: 30d\n' >> "$M"
    echo "rollouts: $(find "$OUT"/home-* -name 'rollout-*.jsonl' | wc -l), $(du -sh "$OUT" | cut -f1)"
    DIRS=$(for i in $(seq 0 $((NH - 1))); do printf '%s ' "$OUT/home-$i"; done)
    time_cmd "floor: find over all rollouts" sh -c "find $DIRS -name 'rollout-*.jsonl' > /dev/null"
    # What a listing with sizes cannot go below: one stat per rollout (find -printf %s).
    time_cmd "floor: find with a stat per rollout (-printf %s)" sh -c "find $DIRS -name 'rollout-*.jsonl' -printf '%s\n' > /dev/null"
    # Codex's listing writes to its DB: it runs on a copy.
    rm -rf "$WORK/codex-copy"; cp -a "$OUT/home-1" "$WORK/codex-copy"
    RUNS_SAVED=$RUNS; RUNS=3
    time_cmd "real Codex thread/list, one $NT-thread home, pages of 50" env CODEX_HOME="$WORK/codex-copy" "$ROOT/scripts/codex_thread_list.py" "$CODEX"
    time_cmd "real Codex thread/list, same, state-DB-only pages" env CODEX_HOME="$WORK/codex-copy" "$ROOT/scripts/codex_thread_list.py" "$CODEX" --db-only
    RUNS=$RUNS_SAVED
    time_cmd "cdxs session list --home (one $NT-thread home)" "$CDXS" -f "$M" session list --home h1
    time_cmd "cdxs session list --all-homes --json ($((NH * NT)) threads)" "$CDXS" -f "$M" session list --all-homes --json
    "$CDXS" -f "$M" plan --offline > /dev/null   # warms the head and session caches
    time_cmd "cdxs plan --offline, warm ($NH x $NT, auto_repair + trash_max_age)" "$CDXS" -f "$M" plan --offline
    # watch over the same homes, every 5 s, once converged: CPU share of one core over 60 s.
    W=$WORK/sessions-watch.yaml
    { cat "$M"; printf 'watch:\n  interval: 5s\n'; } > "$W"
    "$CDXS" -f "$W" apply --yes -q > /dev/null 2>&1 || true
    "$CDXS" -f "$W" watch --json > "$WORK/watch.log" 2>&1 &
    WPID=$!
    sleep 10   # converge (first cycles)
    TCK=$(getconf CLK_TCK)
    T0=$(awk '{print $14 + $15}' /proc/$WPID/stat); S0=$(date +%s%N)
    sleep "${BENCH_WATCH_SECS:-60}"
    T1=$(awk '{print $14 + $15}' /proc/$WPID/stat); S1=$(date +%s%N)
    kill -TERM $WPID; wait $WPID || true
    CYCLES=$(python3 -c 'import json;print(json.load(open("'"$CDXS_STATE_DIR/watch.json"'"))["cycles"])')
    python3 -c "print('%-48s %9.2f %% of one core (%d cycles in all)' % ('cdxs watch, converged, interval 5s', ($T1-$T0)/$TCK / (($S1-$S0)/1e9) * 100, $CYCLES))"
    time_cmd "floor: tail -c 64k of the ${BIG} MB rollout" tail -c 65536 "$BIG_PATH"
    time_cmd "cdxs session stats (tokens from the tail)" "$CDXS" session stats "$BIG_ID" --codex-home "$OUT/home-0"
    time_cmd "floor: wc -l of the ${BIG} MB rollout" wc -l "$BIG_PATH"
    time_cmd "cdxs session stats --lines (full count)" "$CDXS" session stats "$BIG_ID" --codex-home "$OUT/home-0" --lines
    for cmd in "session list --all-homes --json" "plan --offline"; do
      kb=$( { /usr/bin/time -f '%M' "$CDXS" -f "$M" $cmd > /dev/null; } 2>&1 | tail -1)
      printf '%-48s %10s MB\n' "peak RSS: cdxs $cmd" "$((kb / 1024))"
    done
    kb=$( { /usr/bin/time -f '%M' "$CDXS" session stats "$BIG_ID" --codex-home "$OUT/home-0" --lines > /dev/null; } 2>&1 | tail -1)
    printf '%-48s %10s MB\n' "peak RSS: cdxs session stats --lines (${BIG} MB)" "$((kb / 1024))"
    ;;
  *) echo "unknown section $section" >&2; exit 1 ;;
  esac
done
