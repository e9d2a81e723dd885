/* The baseline kernels: plain C for any CPU, vectorized only as far as the default flags allow. */
#include "simd_kernels.h"

/* Four rows of W per pass over y. */
static void matvec_baseline(const float *CYTHON_RESTRICT x, const float *CYTHON_RESTRICT w,
                            float *CYTHON_RESTRICT y, ptrdiff_t n_in, ptrdiff_t n_out) {
    ptrdiff_t i = 0, j;
    for (; i + 4 <= n_in; i += 4) {
        const float x0 = x[i], x1 = x[i + 1], x2 = x[i + 2], x3 = x[i + 3];
        const float *w0 = w + i * n_out, *w1 = w0 + n_out, *w2 = w1 + n_out, *w3 = w2 + n_out;
        for (j = 0; j < n_out; j++) y[j] += x0 * w0[j] + x1 * w1[j] + x2 * w2[j] + x3 * w3[j];
    }
    for (; i < n_in; i++) {
        const float xi = x[i], *wi = w + i * n_out;
        for (j = 0; j < n_out; j++) y[j] += xi * wi[j];
    }
}

static void tanh_baseline(const float *CYTHON_RESTRICT x, float *CYTHON_RESTRICT y, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) y[i] = tutelage_tanh1(x[i]);
}

static void q8_dense_baseline(const int8_t *q, const float *x, const float *scale, const float *bias,
                              ptrdiff_t n_in, ptrdiff_t n_out, ptrdiff_t width, float *y) {
    for (ptrdiff_t j = 0; j < n_out; ++j) y[j] = 0.0f;
    for (ptrdiff_t i = 0; i < n_in; ++i) {
        const float xi = x[i];
        const int8_t *row = q + i * width;
        for (ptrdiff_t j = 0; j < n_out; ++j) y[j] += xi * (float)row[j];
    }
    for (ptrdiff_t j = 0; j < n_out; ++j) y[j] = y[j] * scale[j] + bias[j];
}

const tutelage_simd_kernels tutelage_simd_baseline = {"baseline", matvec_baseline, tanh_baseline, q8_dense_baseline};
