#!/usr/bin/env bash
# A sandboxed tour of cdxs: its own temporary $HOME, state folder and Codex homes, no
# network. Nothing outside the sandbox is read or written.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CDXS=${CDXS:-$ROOT/target/debug/cdxs}
# Under target/: Codex refuses to set up helper binaries in /tmp and says so on stderr.
mkdir -p "$ROOT/target"
SANDBOX=$(mktemp -d "$ROOT/target/demo.XXXXXX")
trap 'rm -rf "$SANDBOX"' EXIT
export HOME=$SANDBOX/home CDXS_STATE_DIR=$SANDBOX/state
unset CODEX_HOME CDXS_MANIFEST
mkdir -p "$HOME"
cd "$SANDBOX"
CODEX=$ROOT/target/codex-cli/node_modules/.bin/codex

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

echo "sandbox: $SANDBOX"
step "$CDXS" account add-api-key --api-key-stdin <<<"sk-demo-0123456789abcdef"
step "$CDXS" import auth --file "$ROOT/examples/demo/personal-auth.json"
step "$CDXS" import auth --file "$ROOT/examples/demo/work-auth.json"
step "$CDXS" import legacy "$ROOT/examples/demo/legacy-cdxs.toml"
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
echo; echo "demo finished; the sandbox is removed on exit"
