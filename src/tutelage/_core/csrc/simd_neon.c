/* AArch64 NEON kernels (Advanced SIMD is part of every AArch64 CPU, so no target attribute is needed). */
#include "simd_kernels.h"

#ifdef TUTELAGE_AARCH64
#include <arm_neon.h>

#define TT_V float32x4_t
#define TT_W 4
#define TT_LOAD vld1q_f32
#define TT_STORE vst1q_f32
#define TT_SET1 vdupq_n_f32
#define TT_ADD vaddq_f32
#define TT_MUL vmulq_f32
#define TT_FMA(a, b, c) vfmaq_f32((c), (a), (b))
#define TT_MIN vminq_f32
#define TT_MAX vmaxq_f32
#define TT_DIV vdivq_f32
#define TT_TARGET
#define TT_NAME(f) f##_neon
#include "simd_float.h"

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
