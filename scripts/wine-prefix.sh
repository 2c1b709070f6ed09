#!/usr/bin/env bash
# Make the wine prefix the Windows tests run in (target/wine, or $CDXS_TEST_WINEPREFIX):
# a 64-bit prefix with the bcryptprimitives.dll stand-in that Rust >= 1.78 programs need
# under wine 8.0 (tests/cross/bcryptprimitives.c). Prints the prefix's path.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${CDXS_TEST_WINEPREFIX:-$ROOT/target/wine}
DLL=$PREFIX/drive_c/windows/system32/bcryptprimitives.dll
export WINEPREFIX=$PREFIX WINEARCH=win64 WINEDEBUG=-all
# No Mono or Gecko installer dialogs: nothing here needs .NET or a browser engine.
export WINEDLLOVERRIDES="mscoree,mshtml="
if [ ! -f "$PREFIX/system.reg" ]; then
  mkdir -p "$PREFIX"
  echo "wine-prefix: creating $PREFIX" >&2
  wineboot --init >/dev/null 2>&1
  wineserver --wait
fi
if [ ! -f "$DLL" ] || [ "$ROOT/tests/cross/bcryptprimitives.c" -nt "$DLL" ]; then
  x86_64-w64-mingw32-gcc -shared -O2 -s -o "$DLL" "$ROOT/tests/cross/bcryptprimitives.c" -ladvapi32
fi
echo "$PREFIX"
