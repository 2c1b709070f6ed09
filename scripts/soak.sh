#!/usr/bin/env bash
# Soak test: kill `cdxs apply` at random moments, many times, flipping the manifest between
# two bindings; after every kill the homes' auth.json must be whole (valid JSON for one of
# the two accounts), and the next undisturbed apply must converge.
#   scripts/soak.sh [ITERATIONS]        (default 200)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-200}
cargo build --quiet --manifest-path "$ROOT/Cargo.toml"
CDXS=$ROOT/target/debug/cdxs
W=$(mktemp -d "$ROOT/target/soak.XXXXXX")
trap 'rm -rf "$W"' EXIT
export HOME=$W/home CDXS_STATE_DIR=$W/state NO_COLOR=1 CDXS_LOCK_TIMEOUT=30
mkdir -p "$HOME"
"$CDXS" import auth -q --file "$ROOT/tests/fixtures/personal-auth.json"
"$CDXS" import auth -q --file "$ROOT/tests/fixtures/work-auth.json"
manifest() {
  cat > "$W/cdxs.yaml" <<YAML
version: 1
accounts:
  a: { email: me@example.com }
  b: { email: me@corp.example }
homes:
  one: { path: $W/h/one, account: $1 }
  two: { path: $W/h/two, account: $2 }
YAML
}
check() {
  for h in one two; do
    f=$W/h/$h/auth.json
    [ -e "$f" ] || continue
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["tokens"]["account_id"] in ("acct-personal","acct-work")' "$f" ||
      { echo "soak: torn or foreign $f after iteration $i" >&2; exit 1; }
  done
}
kills=0
for i in $(seq "$N"); do
  if [ $((i % 2)) = 0 ]; then manifest a b; else manifest b a; fi
  # Kill somewhere between 0 and ~40 ms into the run.
  delay=$(python3 -c 'import random; print(random.uniform(0, 0.04))')
  "$CDXS" -f "$W/cdxs.yaml" apply --yes -q >/dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
  wait "$pid" 2>/dev/null || true
  check
done
"$CDXS" -f "$W/cdxs.yaml" apply --yes -q >/dev/null
"$CDXS" -f "$W/cdxs.yaml" plan --detailed-exitcode >/dev/null || { echo "soak: did not converge" >&2; exit 1; }
check
leftovers=$(find "$W/h" -name '.auth.json.cdxs-*' | wc -l)
[ "$leftovers" = 0 ] || { echo "soak: $leftovers temp files left" >&2; exit 1; }
echo "soak: $N runs, $kills killed mid-run, every file whole, converged"
