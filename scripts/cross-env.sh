# Sourced by the cross scripts: the Debian toolchain that builds cdxs for Windows x64,
# macOS and Linux arm64 on a Linux x86_64 machine without rustup targets (std is built from
# Debian's rust-web-src with -Zbuild-std). See scripts/install-cross.sh.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Debian's cargo and rustc (1.96), ahead of rustup's: one toolchain for every cross build.
# Python's script folder (cargo-zigbuild, and the python3 that has ziglang) goes first.
PYSCRIPTS=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
export PATH="$PYSCRIPTS:/usr/bin:$PATH"
export CARGO=/usr/bin/cargo RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
# -Zbuild-std is a nightly flag; Debian's stable compiler accepts it with this.
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${CDXS_CROSS_TARGET_DIR:-$ROOT/target/cross}
# CI builds these from nothing: incremental compilation only adds work there.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc
export AR_x86_64_pc_windows_gnu=x86_64-w64-mingw32-ar
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
export MACOSX_DEPLOYMENT_TARGET=11.0
BUILD_STD=(-Zbuild-std=std,panic_abort)
