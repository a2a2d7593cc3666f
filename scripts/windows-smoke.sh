#!/usr/bin/env bash
# The Windows smoke suite: builds doctor for x86_64-pc-windows-gnu and runs
# tests/windows.rs against that doctor.exe under Wine (Debian's wine64).
#
# Two test-only parts are built with the mingw compiler beside the exe:
# - bcryptprimitives.dll: Rust's std on this target imports ProcessPrng from
#   that DLL, which Wine 8 lacks; the shim forwards to RtlGenRandom.
# - listener.exe: a Windows TCP listener for `doctor port N`.
# Nothing here is shipped; everything lives under target/windows-smoke/.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/need-packages.sh

missing=()
command -v x86_64-w64-mingw32-gcc >/dev/null || missing+=(gcc-mingw-w64-x86-64)
[ -x /usr/lib/wine/wine64 ] || command -v wine64 >/dev/null || missing+=(wine64)
need_packages windows-smoke.sh "${missing[@]}"
wine=$(command -v wine64 || echo /usr/lib/wine/wine64)
wineserver=$(command -v wineserver || echo /usr/lib/wine/wineserver)
rustup target list --installed 2>/dev/null | grep -qx x86_64-pc-windows-gnu \
  || rustup target add x86_64-pc-windows-gnu

out=$PWD/target/windows-smoke
mkdir -p "$out"
cargo build --locked --target x86_64-pc-windows-gnu --bin doctor
cp target/x86_64-pc-windows-gnu/debug/doctor.exe "$out/"
x86_64-w64-mingw32-gcc -shared -O2 -o "$out/bcryptprimitives.dll" tests/windows/bcryptprimitives.c -ladvapi32
x86_64-w64-mingw32-gcc -O2 -o "$out/listener.exe" tests/windows/listener.c -lws2_32

# A prefix of our own, kept between runs; one wineserver for the whole suite
# (each doctor.exe start then costs a fraction of a second, not two), ended
# with the prefix's own `wineserver -k` however the tests end.
export WINEPREFIX=$out/prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
mkdir -p "$WINEPREFIX"
"$wineserver" -p
trap '"$wineserver" -k || true' EXIT
"$wine" wineboot --init >/dev/null 2>&1 || true

DOCTOR_WINE="$wine" DOCTOR_WINE_DIR="$out" \
  cargo test --locked --test windows -- --ignored "$@"
