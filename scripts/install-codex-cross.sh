#!/usr/bin/env bash
# Install the real Codex CLI for the other platforms the cross smoke tests run it on, pinned
# by version and by the tarball's SHA-512 (the integrity npm publishes), from the npm
# registry: the Windows x64 codex.exe (run under wine) and the Linux arm64 codex (run under
# qemu-user). `npm pack` fetches the platform package as a tarball, which npm would refuse
# to install on this OS. Into target/codex-cli/<version>-<platform>/ (or
# $CDXS_TEST_CODEX_CROSS_DIR), where tests/it/platforms finds them.
set -euo pipefail
VERSION=0.171.0
declare -A INTEGRITY=(
  [win32-x64]=sha512-HKWBK25tLQxdEg6svw0CrBf+v0bQhRyF8EBVdNqeRxErqpfFa/dfSar6r3sJt6tyPqozOtgz2BH8B2G3n/+gnQ==
  [linux-arm64]=sha512-9z17t4bbUJ9UCIb49O4PoA+ki+45q3rd8nZ8PeH6sYnlKkBld/Xpo/OS3h3Ti954+foshX4o7k5TCU8N7zzqQA==
)
declare -A BINARY=(
  [win32-x64]=package/vendor/x86_64-pc-windows-msvc/bin/codex.exe
  [linux-arm64]=package/vendor/aarch64-unknown-linux-musl/bin/codex
)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${CDXS_TEST_CODEX_CROSS_DIR:-$ROOT/target/codex-cli}
for PLATFORM in win32-x64 linux-arm64; do
  PREFIX=$DIR/$VERSION-$PLATFORM
  if [ -f "$PREFIX/${BINARY[$PLATFORM]}" ] && [ -f "$PREFIX/.integrity" ] \
     && [ "$(cat "$PREFIX/.integrity")" = "${INTEGRITY[$PLATFORM]}" ]; then
    continue
  fi
  command -v npm >/dev/null || { echo "install-codex-cross: npm is needed" >&2; exit 1; }
  echo "install-codex-cross: installing @openai/codex@$VERSION-$PLATFORM into $PREFIX" >&2
  TMP=$(mktemp -d)
  trap 'rm -rf "$TMP"' EXIT
  (cd "$TMP" && npm pack --silent "@openai/codex@$VERSION-$PLATFORM" >/dev/null)
  TGZ=$(ls "$TMP"/*.tgz)
  GOT="sha512-$(openssl dgst -sha512 -binary "$TGZ" | base64 -w0)"
  if [ "$GOT" != "${INTEGRITY[$PLATFORM]}" ]; then
    echo "install-codex-cross: $TGZ has $GOT, expected ${INTEGRITY[$PLATFORM]}" >&2
    exit 1
  fi
  rm -rf "$PREFIX"
  mkdir -p "$PREFIX"
  tar xzf "$TGZ" -C "$PREFIX"
  echo "${INTEGRITY[$PLATFORM]}" >"$PREFIX/.integrity"
  rm -rf "$TMP"
  trap - EXIT
done
