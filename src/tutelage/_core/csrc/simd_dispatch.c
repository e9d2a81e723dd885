/* Which kernel tables this CPU can run: a runtime check, no compiler builtin that needs a runtime library. */
#include "simd_kernels.h"

#ifdef TUTELAGE_X86_64
#  if defined(_MSC_VER)
#    include <intrin.h>
static void cpuid(int leaf, int sub, unsigned r[4]) {
    int out[4];
    __cpuidex(out, leaf, sub);
    for (int k = 0; k < 4; k++) r[k] = (unsigned)out[k];
}
static unsigned long long xcr0(void) { return _xgetbv(0); }
#  else
#    include <cpuid.h>
static void cpuid(int leaf, int sub, unsigned r[4]) {
    if (!__get_cpuid_count((unsigned)leaf, (unsigned)sub, &r[0], &r[1], &r[2], &r[3])) r[0] = r[1] = r[2] = r[3] = 0;
}
static unsigned long long xcr0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#  endif

/* AVX2 and FMA on the CPU, and the OS saves the YMM registers (OSXSAVE, XCR0 bits 1 and 2). */
static int has_avx2_fma(void) {
    unsigned r1[4], r7[4];
    cpuid(0, 0, r1);
    if (r1[0] < 7) return 0;
    cpuid(1, 0, r1);
    const int fma = (r1[2] >> 12) & 1, osxsave = (r1[2] >> 27) & 1, avx = (r1[2] >> 28) & 1;
    if (!(fma && osxsave && avx) || (xcr0() & 6) != 6) return 0;
    cpuid(7, 0, r7);
    return (r7[1] >> 5) & 1;
}
#endif

#ifdef TUTELAGE_AARCH64
#  if defined(__linux__)
#    include <sys/auxv.h>
static int has_neon(void) { return (getauxval(AT_HWCAP) >> 1) & 1; } /* HWCAP_ASIMD */
#  else
static int has_neon(void) { return 1; } /* Advanced SIMD is mandatory on AArch64 macOS and Windows */
#  endif
#endif

int tutelage_simd_available(const tutelage_simd_kernels **out) {
    int n = 0;
#ifdef TUTELAGE_X86_64
    if (has_avx2_fma()) out[n++] = &tutelage_simd_avx2;
#endif
#ifdef TUTELAGE_AARCH64
    if (has_neon()) out[n++] = &tutelage_simd_neon;
#endif
    out[n++] = &tutelage_simd_baseline;
    return n;
}
