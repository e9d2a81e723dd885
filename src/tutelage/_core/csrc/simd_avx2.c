/* x86-64 AVX2+FMA kernels; each function carries its own target attribute (no file-wide flag). */
#include "simd_kernels.h"

#ifdef TUTELAGE_X86_64
#include <immintrin.h>

/* y += x·W: four rows of W per pass, two independent product pairs per 8 outputs. */
TUTELAGE_TARGET_AVX2
static void matvec_avx2(const float *CYTHON_RESTRICT x, const float *CYTHON_RESTRICT w,
                        float *CYTHON_RESTRICT y, ptrdiff_t n_in, ptrdiff_t n_out) {
    ptrdiff_t i = 0, j;
    for (; i + 4 <= n_in; i += 4) {
        const float *w0 = w + i * n_out, *w1 = w0 + n_out, *w2 = w1 + n_out, *w3 = w2 + n_out;
        const __m256 x0 = _mm256_set1_ps(x[i]), x1 = _mm256_set1_ps(x[i + 1]);
        const __m256 x2 = _mm256_set1_ps(x[i + 2]), x3 = _mm256_set1_ps(x[i + 3]);
        for (j = 0; j + 8 <= n_out; j += 8) {
            __m256 a = _mm256_fmadd_ps(x1, _mm256_loadu_ps(w1 + j), _mm256_mul_ps(x0, _mm256_loadu_ps(w0 + j)));
            __m256 b = _mm256_fmadd_ps(x3, _mm256_loadu_ps(w3 + j), _mm256_mul_ps(x2, _mm256_loadu_ps(w2 + j)));
            _mm256_storeu_ps(y + j, _mm256_add_ps(_mm256_loadu_ps(y + j), _mm256_add_ps(a, b)));
        }
        for (; j < n_out; j++) y[j] += x[i] * w0[j] + x[i + 1] * w1[j] + x[i + 2] * w2[j] + x[i + 3] * w3[j];
    }
    for (; i < n_in; i++) {
        const float *wi = w + i * n_out;
        const __m256 xi = _mm256_set1_ps(x[i]);
        for (j = 0; j + 8 <= n_out; j += 8)
            _mm256_storeu_ps(y + j, _mm256_fmadd_ps(xi, _mm256_loadu_ps(wi + j), _mm256_loadu_ps(y + j)));
        for (; j < n_out; j++) y[j] += x[i] * wi[j];
    }
}

TUTELAGE_TARGET_AVX2
static void tanh_avx2(const float *CYTHON_RESTRICT x, float *CYTHON_RESTRICT y, ptrdiff_t n) {
    const __m256 hi = _mm256_set1_ps(TUTELAGE_TANH_CLAMP), lo = _mm256_set1_ps(-TUTELAGE_TANH_CLAMP);
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) {
        /* constant first: min/max return their second operand for a NaN, so NaN passes through */
        const __m256 v = _mm256_max_ps(lo, _mm256_min_ps(hi, _mm256_loadu_ps(x + i)));
        const __m256 v2 = _mm256_mul_ps(v, v);
        __m256 p = _mm256_fmadd_ps(v2, _mm256_set1_ps(TUTELAGE_TANH_P0), _mm256_set1_ps(TUTELAGE_TANH_P1));
        p = _mm256_fmadd_ps(v2, p, _mm256_set1_ps(TUTELAGE_TANH_P2));
        p = _mm256_fmadd_ps(v2, p, _mm256_set1_ps(TUTELAGE_TANH_P3));
        p = _mm256_fmadd_ps(v2, p, _mm256_set1_ps(TUTELAGE_TANH_P4));
        p = _mm256_fmadd_ps(v2, p, _mm256_set1_ps(TUTELAGE_TANH_P5));
        p = _mm256_fmadd_ps(v2, p, _mm256_set1_ps(TUTELAGE_TANH_P6));
        __m256 q = _mm256_fmadd_ps(v2, _mm256_set1_ps(TUTELAGE_TANH_Q0), _mm256_set1_ps(TUTELAGE_TANH_Q1));
        q = _mm256_fmadd_ps(v2, q, _mm256_set1_ps(TUTELAGE_TANH_Q2));
        q = _mm256_fmadd_ps(v2, q, _mm256_set1_ps(TUTELAGE_TANH_Q3));
        _mm256_storeu_ps(y + i, _mm256_div_ps(_mm256_mul_ps(v, p), q));
    }
    for (; i < n; i++) y[i] = tutelage_tanh1(x[i]);
}

#define CVT8(p) _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p))))

/* Blocks of 64 outputs (eight accumulators, one 64-byte line of q per input) or, for narrow layers,
   16 outputs two inputs at a time; the int8 weights are widened to float right before the multiply-add
   and scaled once per channel at the end. */
TUTELAGE_TARGET_AVX2
static void q8_dense_avx2(const int8_t *q, const float *x, const float *scale, const float *bias,
                          ptrdiff_t n_in, ptrdiff_t n_out, ptrdiff_t width, float *y) {
    float out[64];
    for (ptrdiff_t j0 = 0; j0 < width;) {
        ptrdiff_t block = width - j0 >= 64 ? 64 : 16;
        const int8_t *r = q + j0;
        if (block == 64) {
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
            for (ptrdiff_t i = 0; i < n_in; ++i, r += width) {
                __m256 xi = _mm256_broadcast_ss(x + i);
                a0 = _mm256_fmadd_ps(xi, CVT8(r), a0);      a1 = _mm256_fmadd_ps(xi, CVT8(r + 8), a1);
                a2 = _mm256_fmadd_ps(xi, CVT8(r + 16), a2); a3 = _mm256_fmadd_ps(xi, CVT8(r + 24), a3);
                a4 = _mm256_fmadd_ps(xi, CVT8(r + 32), a4); a5 = _mm256_fmadd_ps(xi, CVT8(r + 40), a5);
                a6 = _mm256_fmadd_ps(xi, CVT8(r + 48), a6); a7 = _mm256_fmadd_ps(xi, CVT8(r + 56), a7);
            }
            _mm256_storeu_ps(out, a0);      _mm256_storeu_ps(out + 8, a1);  _mm256_storeu_ps(out + 16, a2);
            _mm256_storeu_ps(out + 24, a3); _mm256_storeu_ps(out + 32, a4); _mm256_storeu_ps(out + 40, a5);
            _mm256_storeu_ps(out + 48, a6); _mm256_storeu_ps(out + 56, a7);
        } else {
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
            ptrdiff_t i = 0;
            for (; i + 2 <= n_in; i += 2, r += 2 * width) {
                __m256 x0 = _mm256_broadcast_ss(x + i), x1 = _mm256_broadcast_ss(x + i + 1);
                a0 = _mm256_fmadd_ps(x0, CVT8(r), a0);         a1 = _mm256_fmadd_ps(x0, CVT8(r + 8), a1);
                b0 = _mm256_fmadd_ps(x1, CVT8(r + width), b0); b1 = _mm256_fmadd_ps(x1, CVT8(r + width + 8), b1);
            }
            if (i < n_in) {
                __m256 x0 = _mm256_broadcast_ss(x + i);
                a0 = _mm256_fmadd_ps(x0, CVT8(r), a0);         a1 = _mm256_fmadd_ps(x0, CVT8(r + 8), a1);
            }
            _mm256_storeu_ps(out, _mm256_add_ps(a0, b0)); _mm256_storeu_ps(out + 8, _mm256_add_ps(a1, b1));
        }
        ptrdiff_t m = n_out - j0 < block ? n_out - j0 : block;
        for (ptrdiff_t k = 0; k < m; ++k) y[j0 + k] = out[k] * scale[j0 + k] + bias[j0 + k];
        j0 += block;
    }
}

const tutelage_simd_kernels tutelage_simd_avx2 = {"avx2", matvec_avx2, tanh_avx2, q8_dense_avx2};
#endif
