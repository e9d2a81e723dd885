/* x86-64 AVX2+FMA kernels; each function carries its own target attribute (no file-wide flag). */
#include "simd_kernels.h"

#ifdef TUTELAGE_X86_64
#include <immintrin.h>

#define TT_V __m256
#define TT_W 8
#define TT_LOAD _mm256_loadu_ps
#define TT_STORE _mm256_storeu_ps
#define TT_SET1 _mm256_set1_ps
#define TT_ADD _mm256_add_ps
#define TT_MUL _mm256_mul_ps
#define TT_FMA _mm256_fmadd_ps
#define TT_MIN _mm256_min_ps
#define TT_MAX _mm256_max_ps
#define TT_DIV _mm256_div_ps
#define TT_TARGET TUTELAGE_TARGET_AVX2
#define TT_NAME(f) f##_avx2
#include "simd_float.h"

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
