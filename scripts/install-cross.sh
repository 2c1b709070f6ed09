#!/usr/bin/env bash
# Install what the cross checks and smoke tests need, when it is missing (measured on a
# fresh Debian bookworm machine: about 80 s and 2.7 GB):
# - Debian's Rust 1.96 (`rustc-web`, from bookworm-security) with the standard library's
#   source, to build std for targets rustup cannot fetch here (-Zbuild-std);
# - C cross compilers and linkers: mingw-w64 for Windows x64, gcc for Linux arm64;
# - wine (runs the Windows cdxs.exe and the real codex.exe) and qemu-user (arm64);
# - zig through PyPI (`ziglang`) with cargo-zigbuild: the C compiler for the macOS check
#   (zstd and SQLite are C).
# Then the real Codex CLI for win32-x64 and linux-arm64 (scripts/install-codex-cross.sh).
set -euo pipefail
PKGS=(rustc-web cargo-web rust-web-src rust-web-llvm rust-web-clippy
      gcc-mingw-w64-x86-64 gcc-aarch64-linux-gnu libc6-dev-arm64-cross
      wine wine64 qemu-user-static)
ZIGLANG=0.14.1
ZIGBUILD=0.24.1
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=
  [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "install-cross: installing ${missing[*]}" >&2
  $SUDO apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}" >&2
fi
RUSTC_VERSION=$(/usr/bin/rustc --version)
case "$RUSTC_VERSION" in
  "rustc 1.8"[0-8]*|"rustc 1.[0-7]"*)
    echo "install-cross: $RUSTC_VERSION is older than Cargo.toml's rust-version (1.89): bookworm-security has 1.96" >&2
    exit 1 ;;
esac
# Captured first: `grep -q` stops reading early, and pipefail would count pip's SIGPIPE.
HAVE_ZIG=$(python3 -m ziglang version 2>/dev/null || true)
HAVE_ZIGBUILD=$(python3 -m pip show cargo-zigbuild 2>/dev/null || true)
if [ "$HAVE_ZIG" != "$ZIGLANG" ] || ! grep -qx "Version: $ZIGBUILD" <<<"$HAVE_ZIGBUILD"; then
  echo "install-cross: installing ziglang $ZIGLANG and cargo-zigbuild $ZIGBUILD from PyPI" >&2
  python3 -m pip install --quiet --disable-pip-version-check "ziglang==$ZIGLANG" "cargo-zigbuild==$ZIGBUILD" >&2
fi
"$(dirname "$0")/install-codex-cross.sh"
