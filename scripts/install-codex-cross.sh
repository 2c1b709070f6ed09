#!/usr/bin/env bash
# Install the real Codex CLI for the other platforms cdxs's tests run it on, pinned by
# version and by the tarball's SHA-512 (the integrity npm publishes), from the npm registry:
# the Windows x64 codex.exe of every supported release (run under wine: 0.171.0 by the
# smoke tests, both by the suite built for Windows, `make test-windows`) and the Linux
# arm64 codex (run under qemu-user). `npm pack` fetches the platform package as a tarball,
# which npm would refuse to install on this OS. Into
# target/codex-cli/<version>-<platform>/ (or $CDXS_TEST_CODEX_CROSS_DIR), where
# tests/it/platforms and the harness find them.
set -euo pipefail
declare -A INTEGRITY=(
  [0.171.0-win32-x64]=sha512-HKWBK25tLQxdEg6svw0CrBf+v0bQhRyF8EBVdNqeRxErqpfFa/dfSar6r3sJt6tyPqozOtgz2BH8B2G3n/+gnQ==
  [0.171.0-linux-arm64]=sha512-9z17t4bbUJ9UCIb49O4PoA+ki+45q3rd8nZ8PeH6sYnlKkBld/Xpo/OS3h3Ti954+foshX4o7k5TCU8N7zzqQA==
  [0.169.0-win32-x64]=sha512-nC+McFU8xRNL9tk3IhxcKdhcyOElwF/HhPO+gzSQCY7yjh3XdzSajX+MYWcHUVHWRHajfwn3/WgJYJK2wS+XWg==
)
declare -A BINARY=(
  [win32-x64]=package/vendor/x86_64-pc-windows-msvc/bin/codex.exe
  [linux-arm64]=package/vendor/aarch64-unknown-linux-musl/bin/codex
)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${CDXS_TEST_CODEX_CROSS_DIR:-$ROOT/target/codex-cli}
for PACKAGE in 0.171.0-win32-x64 0.171.0-linux-arm64 0.169.0-win32-x64; do
  PLATFORM=${PACKAGE#*-}
  PREFIX=$DIR/$PACKAGE
  if [ -f "$PREFIX/${BINARY[$PLATFORM]}" ] && [ -f "$PREFIX/.integrity" ] \
     && [ "$(cat "$PREFIX/.integrity")" = "${INTEGRITY[$PACKAGE]}" ]; then
    continue
  fi
  command -v npm >/dev/null || { echo "install-codex-cross: npm is needed" >&2; exit 1; }
  echo "install-codex-cross: installing @openai/codex@$PACKAGE into $PREFIX" >&2
  TMP=$(mktemp -d)
  trap 'rm -rf "$TMP"' EXIT
  (cd "$TMP" && npm pack --silent "@openai/codex@$PACKAGE" >/dev/null)
  TGZ=$(ls "$TMP"/*.tgz)
  GOT="sha512-$(openssl dgst -sha512 -binary "$TGZ" | base64 -w0)"
  if [ "$GOT" != "${INTEGRITY[$PACKAGE]}" ]; then
    echo "install-codex-cross: $TGZ has $GOT, expected ${INTEGRITY[$PACKAGE]}" >&2
    exit 1
  fi
  rm -rf "$PREFIX"
  mkdir -p "$PREFIX"
  tar xzf "$TGZ" -C "$PREFIX"
  echo "${INTEGRITY[$PACKAGE]}" >"$PREFIX/.integrity"
  rm -rf "$TMP"
  trap - EXIT
done
