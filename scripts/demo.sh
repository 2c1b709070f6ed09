#!/usr/bin/env bash
# A sandboxed tour of cdxs: its own temporary $HOME, state folder and Codex homes, no
# network. Nothing outside the sandbox is read or written.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CDXS=${CDXS:-$ROOT/target/debug/cdxs}
CODEX=$ROOT/target/codex-cli/0.171.0/node_modules/.bin/codex
# Built before $HOME moves into the sandbox (cargo needs the real one).
if [ -x "$CODEX" ]; then
  cargo build --quiet --example mock_responses --manifest-path "$ROOT/Cargo.toml"
fi
# Under target/: Codex refuses to set up helper binaries in /tmp and says so on stderr.
mkdir -p "$ROOT/target"
SANDBOX=$(mktemp -d "$ROOT/target/demo.XXXXXX")
trap 'rm -rf "$SANDBOX"' EXIT
export HOME=$SANDBOX/home CDXS_STATE_DIR=$SANDBOX/state
unset CODEX_HOME CDXS_MANIFEST
mkdir -p "$HOME"
cd "$SANDBOX"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

echo "sandbox: $SANDBOX"
step "$CDXS" account add-api-key --api-key-stdin <<<"sk-demo-0123456789abcdef"
step "$CDXS" import auth --file "$ROOT/examples/demo/personal-auth.json"
step "$CDXS" import auth --file "$ROOT/examples/demo/work-auth.json"
step "$CDXS" list
step "$CDXS" account show me@corp
step "$CDXS" import auth --file "$ROOT/examples/demo/personal-auth.json" --switch
step "$CDXS" account current
if [ -x "$CODEX" ]; then
  echo; echo "# what the real Codex CLI thinks of the home cdxs just wrote:"
  step env CODEX_HOME="$HOME/.codex" "$CODEX" login status
fi

echo; echo "# the declarative part: a manifest from the current state, then more homes"
step "$CDXS" init
step "$CDXS" import legacy "$ROOT/examples/demo/legacy-cdxs.toml"
M=$HOME/.config/cdxs/cdxs.yaml
cat >> "$M" <<YAML
  work:
    path: ~/codex-homes/work
    account: me-corp
  scratch:
    path: ~/codex-homes/scratch
YAML
step cat "$M"
step "$CDXS" validate
step "$CDXS" plan
step "$CDXS" apply --yes
step "$CDXS" plan --detailed-exitcode
step "$CDXS" status
if [ -x "$CODEX" ]; then
  echo; echo "# drift: somebody runs \`codex login --with-api-key\` in a managed home"
  printf 'sk-demo-drift-000000000' | CODEX_HOME=$HOME/codex-homes/work "$CODEX" login --with-api-key >/dev/null 2>&1
  step "$CDXS" plan || true
  step "$CDXS" apply --yes
  step env CODEX_HOME="$HOME/codex-homes/work" "$CODEX" login status
fi
step "$CDXS" switch me@corp.example --home default || true
step "$CDXS" history
step "$CDXS" run --home work -- sh -c 'echo "running with CODEX_HOME=$CODEX_HOME"'

if [ -x "$CODEX" ]; then
  echo; echo "# sessions: the real Codex makes three offline (a local Responses mock), cdxs manages them"
  "$ROOT/target/debug/examples/mock_responses" > "$SANDBOX/mock.toml" &
  MOCK=$!
  trap 'kill $MOCK 2>/dev/null; rm -rf "$SANDBOX"' EXIT
  for _ in $(seq 50); do grep -q openai_base_url "$SANDBOX/mock.toml" 2>/dev/null && break; sleep 0.1; done
  S=$HOME/codex-homes/scratch
  cp "$SANDBOX/mock.toml" "$S/config.toml"
  printf '{\n  "auth_mode": "apikey",\n  "OPENAI_API_KEY": "sk-mock"\n}' > "$S/auth.json"
  for p in "explain the build" "fix the flaky test" "write the changelog"; do
    (cd "$SANDBOX" && CODEX_HOME=$S "$CODEX" exec --skip-git-repo-check --json "$p" </dev/null >/dev/null 2>&1)
  done
  step "$CDXS" session list --home scratch
  ID=$("$CDXS" session list --home scratch --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["threads"][1]["id"])')
  step "$CDXS" session stats "$ID"
  step "$CDXS" session trash "$ID" --home scratch
  step "$CDXS" session trash-list
  step "$CDXS" session restore "$ID"
  step "$CDXS" session visibility check --home scratch
fi
echo; echo "demo finished; the sandbox is removed on exit"
