#!/usr/bin/env bash
# Prepares a headless Wine prefix that can run Rust (>= 1.78) x86_64-pc-windows-gnu programs.
# Usage: WINEPREFIX=... scripts/wine-prefix.sh
set -euo pipefail
export WINEPREFIX=${WINEPREFIX:?set WINEPREFIX} WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    wineboot -i >/dev/null 2>&1 || true
    # Windows get a null display driver: real windows (for WM_CLOSE) without an X server.
    wine reg add 'HKCU\Software\Wine\Drivers' /v Graphics /d null /f >/dev/null 2>&1
    wineserver -w
fi
# Wine 8 lacks bcryptprimitives.dll, from which Rust's std imports ProcessPrng: build a stand-in
# that forwards to RtlGenRandom (SystemFunction036).
sys32="$WINEPREFIX/drive_c/windows/system32"
if [ ! -f "$sys32/bcryptprimitives.dll" ] || ! grep -q ProcessPrng "$sys32/bcryptprimitives.dll"; then
    d=$(mktemp -d)
    cat >"$d/b.c" <<'C'
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID, ULONG);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE p, SIZE_T n) {
    while (n) {
        ULONG c = n > 0x7fffffff ? 0x7fffffff : (ULONG)n;
        if (!SystemFunction036(p, c)) return FALSE;
        p += c;
        n -= c;
    }
    return TRUE;
}
C
    x86_64-w64-mingw32-gcc -shared -O2 -s -o "$sys32/bcryptprimitives.dll" "$d/b.c" -ladvapi32
    rm -rf "$d"
fi
