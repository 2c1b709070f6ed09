#!/usr/bin/env bash
# Benchmarks for SPEC section 9 (see BENCHMARKS.md). Builds release, generates synthetic
# workloads in a scratch folder, and times cdxs against floors (`true`, `find`) measured
# in the same run. Uses hyperfine when installed, else a plain timing loop.
#   scripts/bench.sh [section...]     sections: accounts (default: all)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
CDXS=$ROOT/target/release/cdxs
WORK=${BENCH_DIR:-$ROOT/target/bench}
RUNS=${BENCH_RUNS:-30}
mkdir -p "$WORK"
SECTIONS=${*:-accounts homes}

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
  *) echo "unknown section $section" >&2; exit 1 ;;
  esac
done
