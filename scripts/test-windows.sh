#!/usr/bin/env bash
# `make test-windows`: the whole suite (the unit tests and the integration tests in
# tests/it) built for Windows x64 and run under wine, each test in a wine process of its
# own (cargo-nextest with wine as the target runner), against the Windows cdxs.exe and the
# real Windows codex.exe of every supported release. Not part of `make test` (CI): see
# BENCHMARKS.md for what it costs. The tests that drive Linux programs (PostgreSQL,
# `script`, the wine and qemu smoke suites) are ignored in this build (build.rs) and run in
# `make test`; a test that is Unix-only says why where it is marked.
# Extra arguments go to nextest (a filter: `make test-windows ARGS="-E 'test(/^sessions/)'"`,
# or `scripts/test-windows.sh -E 'test(/^sessions/)'`).
set -euo pipefail
source "$(dirname "$0")/cross-env.sh"
cd "$ROOT"
WINEPREFIX=$(scripts/wine-prefix.sh)
export WINEPREFIX WINEARCH=win64 WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine
export CARGO_PROFILE_DEV_DEBUG=0
# Snapshots are compared, never written (`cargo insta` is for the Linux suite), and insta
# finds the workspace without running cargo under wine.
export INSTA_UPDATE=no INSTA_WORKSPACE_ROOT=$ROOT
start=$SECONDS
status=0
cargo nextest run --locked --profile wine --target x86_64-pc-windows-gnu "${BUILD_STD[@]}" \
  --no-fail-fast "$@" || status=$?
wineserver -k 2>/dev/null || true
echo "test-windows $((SECONDS - start))s" | tee -a "$CARGO_TARGET_DIR/timings.txt" >&2
exit $status
