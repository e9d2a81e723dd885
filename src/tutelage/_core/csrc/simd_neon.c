/* AArch64 NEON kernels (Advanced SIMD is part of every AArch64 CPU, so no target attribute is needed). */
#include "simd_kernels.h"

#ifdef TUTELAGE_AARCH64
#include <arm_neon.h>

static void matvec_neon(const float *CYTHON_RESTRICT x, const float *CYTHON_RESTRICT w,
                        float *CYTHON_RESTRICT y, ptrdiff_t n_in, ptrdiff_t n_out) {
    ptrdiff_t i = 0, j;
    for (; i + 4 <= n_in; i += 4) {
        const float *w0 = w + i * n_out, *w1 = w0 + n_out, *w2 = w1 + n_out, *w3 = w2 + n_out;
        const float32x4_t x0 = vdupq_n_f32(x[i]), x1 = vdupq_n_f32(x[i + 1]);
        const float32x4_t x2 = vdupq_n_f32(x[i + 2]), x3 = vdupq_n_f32(x[i + 3]);
        for (j = 0; j + 4 <= n_out; j += 4) {
            float32x4_t a = vfmaq_f32(vmulq_f32(x0, vld1q_f32(w0 + j)), x1, vld1q_f32(w1 + j));
            float32x4_t b = vfmaq_f32(vmulq_f32(x2, vld1q_f32(w2 + j)), x3, vld1q_f32(w3 + j));
            vst1q_f32(y + j, vaddq_f32(vld1q_f32(y + j), vaddq_f32(a, b)));
        }
        for (; j < n_out; j++) y[j] += x[i] * w0[j] + x[i + 1] * w1[j] + x[i + 2] * w2[j] + x[i + 3] * w3[j];
    }
    for (; i < n_in; i++) {
        const float *wi = w + i * n_out;
        const float32x4_t xi = vdupq_n_f32(x[i]);
        for (j = 0; j + 4 <= n_out; j += 4) vst1q_f32(y + j, vfmaq_f32(vld1q_f32(y + j), xi, vld1q_f32(wi + j)));
        for (; j < n_out; j++) y[j] += x[i] * wi[j];
    }
}

static void tanh_neon(const float *CYTHON_RESTRICT x, float *CYTHON_RESTRICT y, ptrdiff_t n) {
    const float32x4_t hi = vdupq_n_f32(TUTELAGE_TANH_CLAMP), lo = vdupq_n_f32(-TUTELAGE_TANH_CLAMP);
    ptrdiff_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t v = vmaxq_f32(lo, vminq_f32(hi, vld1q_f32(x + i)));  /* NaN propagates */
        const float32x4_t v2 = vmulq_f32(v, v);
        float32x4_t p = vfmaq_f32(vdupq_n_f32(TUTELAGE_TANH_P1), v2, vdupq_n_f32(TUTELAGE_TANH_P0));
        p = vfmaq_f32(vdupq_n_f32(TUTELAGE_TANH_P2), v2, p);
        p = vfmaq_f32(vdupq_n_f32(TUTELAGE_TANH_P3), v2, p);
        p = vfmaq_f32(vdupq_n_f32(TUTELAGE_TANH_P4), v2, p);
        p = vfmaq_f32(vdupq_n_f32(TUTELAGE_TANH_P5), v2, p);
        p = vfmaq_f32(vdupq_n_f32(TUTELAGE_TANH_P6), v2, p);
        float32x4_t q = vfmaq_f32(vdupq_n_f32(TUTELAGE_TANH_Q1), v2, vdupq_n_f32(TUTELAGE_TANH_Q0));
        q = vfmaq_f32(vdupq_n_f32(TUTELAGE_TANH_Q2), v2, q);
        q = vfmaq_f32(vdupq_n_f32(TUTELAGE_TANH_Q3), v2, q);
        vst1q_f32(y + i, vdivq_f32(vmulq_f32(v, p), q));
    }
    for (; i < n; i++) y[i] = tutelage_tanh1(x[i]);
}

/* 16 outputs per block (four accumulators), the int8 weights widened to float before the multiply-add. */
static void q8_dense_neon(const int8_t *q, const float *x, const float *scale, const float *bias,
                          ptrdiff_t n_in, ptrdiff_t n_out, ptrdiff_t width, float *y) {
    float out[TUTELAGE_Q8_BLOCK];
    for (ptrdiff_t j0 = 0; j0 < width; j0 += TUTELAGE_Q8_BLOCK) {
        float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
        const int8_t *r = q + j0;
        for (ptrdiff_t i = 0; i < n_in; ++i, r += width) {
            const float32x4_t xi = vdupq_n_f32(x[i]);
            const int8x16_t b = vld1q_s8(r);
            const int16x8_t lo = vmovl_s8(vget_low_s8(b)), hi = vmovl_s8(vget_high_s8(b));
            a0 = vfmaq_f32(a0, xi, vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo))));
            a1 = vfmaq_f32(a1, xi, vcvtq_f32_s32(vmovl_s16(vget_high_s16(lo))));
            a2 = vfmaq_f32(a2, xi, vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi))));
            a3 = vfmaq_f32(a3, xi, vcvtq_f32_s32(vmovl_s16(vget_high_s16(hi))));
        }
        vst1q_f32(out, a0); vst1q_f32(out + 4, a1); vst1q_f32(out + 8, a2); vst1q_f32(out + 12, a3);
        ptrdiff_t m = n_out - j0 < TUTELAGE_Q8_BLOCK ? n_out - j0 : TUTELAGE_Q8_BLOCK;
        for (ptrdiff_t k = 0; k < m; ++k) y[j0 + k] = out[k] * scale[j0 + k] + bias[j0 + k];
    }
}

const tutelage_simd_kernels tutelage_simd_neon = {"neon", matvec_neon, tanh_neon, q8_dense_neon};
#endif
