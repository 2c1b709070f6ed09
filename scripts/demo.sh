#!/usr/bin/env bash
# A sandboxed tour of cdxs: its own temporary $HOME, state folder and Codex homes, no
# network. Nothing outside the sandbox is read or written.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CDXS=${CDXS:-$ROOT/target/debug/cdxs}
SANDBOX=$(mktemp -d "${TMPDIR:-/tmp}/cdxs-demo.XXXXXX")
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
step "$CDXS" list --json
echo; echo "demo finished; the sandbox is removed on exit"
