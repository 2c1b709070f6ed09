#!/usr/bin/env bash
# The cross steps of `make test` (scripts/install-cross.sh installs their tools):
#   scripts/cross.sh check   Windows x64: cargo clippy --all-targets -D warnings (check plus
#                            the lints); macOS arm64: cargo check --all-targets (zig compiles
#                            the C parts)
#   scripts/cross.sh build   the binaries the smoke tests run: cdxs.exe (wine) and the Linux
#                            arm64 cdxs (qemu-user), without debug info (faster to link)
# (Building every Windows target instead of checking them costs 8 more CPU-minutes: the
# debug test binaries are large to generate and link.)
# Each step prints its wall time; target/cross/timings.txt keeps the last run's.
set -euo pipefail
source "$(dirname "$0")/cross-env.sh"
cd "$ROOT"
mkdir -p "$CARGO_TARGET_DIR"
TIMINGS=$CARGO_TARGET_DIR/timings.txt

step() {
  local name=$1
  shift
  local start=$SECONDS
  echo "cross: $name: $*" >&2
  "$@"
  echo "$name $((SECONDS - start))s" | tee -a "$TIMINGS" >&2
}

case "${1:-}" in
  check)
    : >"$TIMINGS"
    # Debian's clippy 1.96 flags the `const {}` thread-local initializer in
    # src/server/auth.rs, which already is const (rustup's clippy 1.95 agrees).
    step check-windows cargo clippy --locked --all-targets --target x86_64-pc-windows-gnu "${BUILD_STD[@]}" \
      -- -D warnings -A clippy::missing_const_for_thread_local
    step check-macos cargo-zigbuild check --locked --all-targets --target aarch64-apple-darwin "${BUILD_STD[@]}"
    ;;
  build)
    export CARGO_PROFILE_DEV_DEBUG=0
    step build-windows cargo build --locked --bin cdxs --target x86_64-pc-windows-gnu "${BUILD_STD[@]}"
    step build-arm64 cargo build --locked --bin cdxs --target aarch64-unknown-linux-gnu "${BUILD_STD[@]}"
    ;;
  *)
    echo "usage: scripts/cross.sh check|build" >&2
    exit 2
    ;;
esac
