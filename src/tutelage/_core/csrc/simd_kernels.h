/* The core's hottest loops, one table of function pointers per instruction set.
 *
 * simd_baseline.c is plain C built with the compiler's default flags (runs on
 * every CPU of the target architecture); simd_avx2.c (x86-64) and simd_neon.c
 * (AArch64) hold the same kernels in intrinsics (the float ones written once in
 * simd_float.h over portable vector macros), each function compiled for its
 * instruction set alone (a per-function target attribute), so no object needs a
 * machine-specific flag. simd_dispatch.c picks a table once, at import, from a
 * runtime CPU check.
 */
#ifndef TUTELAGE_SIMD_KERNELS_H
#define TUTELAGE_SIMD_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* The restrict spelling of each compiler (the same definition as Cython's). */
#ifndef CYTHON_RESTRICT
#  if defined(__GNUC__)
#    define CYTHON_RESTRICT __restrict__
#  elif defined(_MSC_VER) && _MSC_VER >= 1400
#    define CYTHON_RESTRICT __restrict
#  elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 199901L
#    define CYTHON_RESTRICT restrict
#  else
#    define CYTHON_RESTRICT
#  endif
#endif

#if defined(__x86_64__) || defined(_M_X64)
#  define TUTELAGE_X86_64 1
#elif defined(__aarch64__) || defined(_M_ARM64)
#  define TUTELAGE_AARCH64 1
#endif

/* One function compiled for AVX2+FMA (GCC, clang); MSVC emits any intrinsic without a flag. */
#if defined(__GNUC__) || defined(__clang__)
#  define TUTELAGE_TARGET_AVX2 __attribute__((target("avx2,fma")))
#else
#  define TUTELAGE_TARGET_AVX2
#endif

/* The int8 weights of a dense layer are padded to a multiple of this many output columns. */
#define TUTELAGE_Q8_BLOCK 16

typedef void (*tutelage_matvec_fn)(const float *CYTHON_RESTRICT x, const float *CYTHON_RESTRICT w,
                                   float *CYTHON_RESTRICT y, ptrdiff_t n_in, ptrdiff_t n_out);
typedef void (*tutelage_tanh_fn)(const float *CYTHON_RESTRICT x, float *CYTHON_RESTRICT y, ptrdiff_t n);
typedef void (*tutelage_q8_dense_fn)(const int8_t *q, const float *x, const float *scale, const float *bias,
                                     ptrdiff_t n_in, ptrdiff_t n_out, ptrdiff_t width, float *y);

typedef struct {
    const char *name;
    /* y += x·W for one row x (n_in) and W (n_in × n_out) row-major */
    tutelage_matvec_fn matvec;
    /* y = tanh(x) (Eigen's rational interpolant on [-9, 9], a couple of ulp) */
    tutelage_tanh_fn tanh;
    /* y = (x · q) * scale + bias, q int8 (n_in × width), width a multiple of TUTELAGE_Q8_BLOCK */
    tutelage_q8_dense_fn q8_dense;
} tutelage_simd_kernels;

extern const tutelage_simd_kernels tutelage_simd_baseline;
#ifdef TUTELAGE_X86_64
extern const tutelage_simd_kernels tutelage_simd_avx2;
#endif
#ifdef TUTELAGE_AARCH64
extern const tutelage_simd_kernels tutelage_simd_neon;
#endif

/* The tables this CPU can run, best first, ending with the baseline; returns how many (at most 4). */
int tutelage_simd_available(const tutelage_simd_kernels **out);

/* tanh's rational interpolant: clamp bound and the coefficients of p (odd) and q (even) in v². */
#define TUTELAGE_TANH_CLAMP 9.0f
#define TUTELAGE_TANH_P0 -2.76076847742355e-16f
#define TUTELAGE_TANH_P1 2.00018790482477e-13f
#define TUTELAGE_TANH_P2 -8.60467152213735e-11f
#define TUTELAGE_TANH_P3 5.12229709037114e-08f
#define TUTELAGE_TANH_P4 1.48572235717979e-05f
#define TUTELAGE_TANH_P5 6.37261928875436e-04f
#define TUTELAGE_TANH_P6 4.89352455891786e-03f
#define TUTELAGE_TANH_Q0 1.19825839466702e-06f
#define TUTELAGE_TANH_Q1 1.18534705686654e-04f
#define TUTELAGE_TANH_Q2 2.26843463243900e-03f
#define TUTELAGE_TANH_Q3 4.89352518554385e-03f

/* The scalar tail shared by every table (also the whole baseline tanh). */
static inline float tutelage_tanh1(float v) {
    v = v > TUTELAGE_TANH_CLAMP ? TUTELAGE_TANH_CLAMP : v;
    v = v < -TUTELAGE_TANH_CLAMP ? -TUTELAGE_TANH_CLAMP : v;
    const float v2 = v * v;
    float p = v2 * TUTELAGE_TANH_P0 + TUTELAGE_TANH_P1;
    p = v2 * p + TUTELAGE_TANH_P2;
    p = v2 * p + TUTELAGE_TANH_P3;
    p = v2 * p + TUTELAGE_TANH_P4;
    p = v2 * p + TUTELAGE_TANH_P5;
    p = v2 * p + TUTELAGE_TANH_P6;
    float q = v2 * TUTELAGE_TANH_Q0 + TUTELAGE_TANH_Q1;
    q = v2 * q + TUTELAGE_TANH_Q2;
    q = v2 * q + TUTELAGE_TANH_Q3;
    return v * p / q;
}

#endif
