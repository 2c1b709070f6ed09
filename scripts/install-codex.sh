#!/usr/bin/env bash
# Install every Codex CLI release cdxs supports, pinned, from the npm registry into
# target/codex-cli/<version>/ (ignored by git). The integration tests run each real-Codex
# test against each of them (the harness finds them there, or through $CDXS_TEST_CODEX_DIR).
# Keep this list equal to `CODEX_RELEASES` in tests/it/harness.rs and `RELEASES` in
# src/codex/schema.rs.
set -euo pipefail
VERSIONS=(0.169.0 0.171.0)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${CDXS_TEST_CODEX_DIR:-$ROOT/target/codex-cli}
for VERSION in "${VERSIONS[@]}"; do
  PREFIX=$DIR/$VERSION
  BIN=$PREFIX/node_modules/.bin/codex
  if [ -x "$BIN" ] && "$BIN" --version 2>/dev/null | grep -q "$VERSION"; then
    continue
  fi
  command -v npm >/dev/null || { echo "install-codex: npm is needed to install @openai/codex@$VERSION" >&2; exit 1; }
  mkdir -p "$PREFIX"
  echo "install-codex: installing @openai/codex@$VERSION into $PREFIX" >&2
  npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error "@openai/codex@$VERSION" >&2
  "$BIN" --version >&2
done
