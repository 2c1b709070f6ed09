#!/usr/bin/env bash
# Install the pinned real Codex CLI from the npm registry into target/codex-cli (ignored by
# git). The integration tests find it there, or through $CDXS_TEST_CODEX.
set -euo pipefail
VERSION=0.169.0
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${CDXS_CODEX_DIR:-$ROOT/target/codex-cli}
BIN=$DIR/node_modules/.bin/codex
if [ -x "$BIN" ] && "$BIN" --version 2>/dev/null | grep -q "$VERSION"; then
  exit 0
fi
command -v npm >/dev/null || { echo "install-codex: npm is needed to install @openai/codex@$VERSION" >&2; exit 1; }
mkdir -p "$DIR"
echo "install-codex: installing @openai/codex@$VERSION into $DIR" >&2
npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error "@openai/codex@$VERSION" >&2
"$BIN" --version >&2
