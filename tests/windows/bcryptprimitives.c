/* Test-only stand-in for Windows' bcryptprimitives.dll, which Wine 8 lacks.
 * Rust's std on x86_64-pc-windows-gnu fills its random seeds (HashMap keys)
 * with ProcessPrng from that DLL; Wine has RtlGenRandom (advapi32's
 * SystemFunction036), so the shim forwards to it. Never shipped: the smoke
 * suite places the built DLL next to doctor.exe inside its own test folder. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
