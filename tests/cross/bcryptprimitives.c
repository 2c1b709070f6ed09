/*
 * A stand-in for Windows 10's bcryptprimitives.dll, for the wine 8.0 prefix of the test
 * suite only (scripts/wine-prefix.sh builds it with mingw). Rust >= 1.78 programs get their
 * random numbers from ProcessPrng, which wine 8.0 does not have, so no Rust-built .exe
 * starts there without it. Real Windows 10 and later has the real DLL; releases never ship
 * this file.
 */
#include <windows.h>

/* RtlGenRandom, exported by advapi32 under this name. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
