#!/usr/bin/env bash
# The release archives, made on this Linux x86_64 machine in the shapes dist's release
# workflow uploads (dist-workspace.toml), so the installers, `cargo binstall` and the
# package manifests can be tried before a tag is pushed:
#
#   scripts/dist-local.sh [OUTDIR]
#       builds cdxs once per target with the `dist` profile (Linux x86_64 with the default
#       toolchain; Linux arm64 and Windows x64 with the cross toolchain of
#       scripts/cross-env.sh, which scripts/install-cross.sh installs), then packages each, writes
#       sha256.sum, copies the installers from packaging/ and writes the Homebrew formula
#       and the winget manifest (scripts/package-manifests.sh). OUTDIR defaults to
#       target/distrib-local. `make dist-local` runs this.
#   scripts/dist-local.sh package TRIPLE BINARY OUTDIR
#       packages one binary that is already built (the release test packages the debug
#       build this way: CI never builds release binaries).
#
# Archives: `cdxs-<triple>.tar.xz` with one folder `cdxs-<triple>/` (the binary and
# README.md and the two licence texts), as the shell installer, Homebrew and binstall unpack it; for Windows
# `cdxs-<triple>.zip` with `cdxs.exe`, README.md and the licences at the top, as the PowerShell installer
# and winget expect. Each has `<archive>.sha256` (`sha256sum -c` reads it).
# Windows here is x86_64-pc-windows-gnu (mingw): the release workflow builds the MSVC one.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NAME=cdxs

# package TRIPLE BINARY OUTDIR: the archive and its checksum file; prints the archive path.
package() {
  local triple=$1 binary=$2 out=$3
  [ -f "$binary" ] || { echo "dist-local: no binary at $binary" >&2; exit 1; }
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
  local stage
  stage=$(mktemp -d)
  local archive
  case "$triple" in
    *windows*)
      archive=$NAME-$triple.zip
      cp "$binary" "$stage/$NAME.exe"
      cp "$ROOT/README.md" "$ROOT/LICENSE-MIT" "$ROOT/LICENSE-APACHE" "$stage/"
      rm -f "$out/$archive"
      if command -v zip >/dev/null; then
        (cd "$stage" && zip -q -X "$out/$archive" "$NAME.exe" README.md LICENSE-MIT LICENSE-APACHE)
      else
        (cd "$stage" && python3 -m zipfile -c "$out/$archive" "$NAME.exe" README.md LICENSE-MIT LICENSE-APACHE)
      fi
      ;;
    *)
      archive=$NAME-$triple.tar.xz
      mkdir "$stage/$NAME-$triple"
      cp "$binary" "$stage/$NAME-$triple/$NAME"
      chmod 0755 "$stage/$NAME-$triple/$NAME"
      cp "$ROOT/README.md" "$ROOT/LICENSE-MIT" "$ROOT/LICENSE-APACHE" "$stage/$NAME-$triple/"
      tar -C "$stage" --owner=0 --group=0 --numeric-owner -cJf "$out/$archive" "$NAME-$triple"
      ;;
  esac
  rm -rf "$stage"
  (cd "$out" && sha256sum "$archive" >"$archive.sha256")
  echo "$out/$archive"
}

# build TRIPLE: the `dist` profile build of cdxs for TRIPLE; prints the binary's path.
build() {
  local triple=$1 start=$SECONDS
  echo "dist-local: building $triple" >&2
  case "$triple" in
    x86_64-unknown-linux-gnu)
      (cd "$ROOT" && cargo build --locked --profile dist --bin $NAME --target "$triple" >&2)
      echo "$ROOT/target/$triple/dist/$NAME"
      ;;
    *)
      # The cross toolchain, in a subshell: it puts Debian's cargo first on PATH.
      (
        source "$ROOT/scripts/cross-env.sh"
        cd "$ROOT"
        cargo build --locked --profile dist --bin $NAME --target "$triple" "${BUILD_STD[@]}" >&2
      )
      local ext=
      case "$triple" in *windows*) ext=.exe ;; esac
      echo "${CDXS_CROSS_TARGET_DIR:-$ROOT/target/cross}/$triple/dist/$NAME$ext"
      ;;
  esac
  echo "dist-local: $triple built in $((SECONDS - start))s" >&2
}

case "${1:-}" in
  package)
    [ $# -eq 4 ] || { echo "usage: scripts/dist-local.sh package TRIPLE BINARY OUTDIR" >&2; exit 2; }
    package "$2" "$3" "$4"
    ;;
  -h|--help)
    sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
    ;;
  *)
    OUT=${1:-$ROOT/target/distrib-local}
    mkdir -p "$OUT"
    # Only what an earlier run wrote there: OUTDIR may be a folder with other files.
    (cd "$OUT" && rm -rf ./$NAME-*.tar.xz ./$NAME-*.zip ./$NAME-*.sha256 ./$NAME-installer.* sha256.sum $NAME.rb winget)
    for triple in x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu x86_64-pc-windows-gnu; do
      package "$triple" "$(build "$triple")" "$OUT" >/dev/null
    done
    (cd "$OUT" && cat ./*.sha256 >sha256.sum && sha256sum -c --quiet sha256.sum)
    cp "$ROOT/packaging/$NAME-installer.sh" "$ROOT/packaging/$NAME-installer.ps1" "$OUT/"
    "$ROOT/scripts/package-manifests.sh" "$OUT"
    echo "dist-local: $OUT" >&2
    ls -l "$OUT" >&2
    ;;
esac
