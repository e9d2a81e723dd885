# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Sequence kernels: causal multi-head self-attention, its KV-cache step, and sequence cross-entropy.

Also the dense (with a residual added by the same GEMM), layer-norm (its
backward adding into the residual path's gradient), GELU and embedding kernels
that :mod:`tutelage.nn.transformer` runs a GPT block on. The element-wise and
row-wise loops are written once in C and built twice, for the baseline and
with the AVX2+FMA target attribute (``*_avx2``), picked per call from the SIMD
path in use (:mod:`tutelage._core.simd`); the products run on BLAS (batch-1
dense on the executor's SIMD matvec). Inputs are validated by the callers in
:mod:`tutelage.nn.attention`; here they are C-contiguous float32 of the stated
sizes (checked by ``f32_data``). Backward kernels overwrite input gradients and
accumulate (``+=``) parameter gradients, like :mod:`tutelage._core.kernels`.

Attention layout: ``qkv`` is ``(batch, time, 3·d)`` with rows ``[q | k | v]``,
head ``h`` owning columns ``h·hd … (h+1)·hd`` of each part; the output is
``(batch, time, d)``; ``probs`` ``(batch, heads, time, time)`` keeps the
causal softmax for the backward pass.
"""
from libc.math cimport log, sqrtf
from libc.stdlib cimport free, malloc

cimport numpy as cnp

from tutelage._core.arrays cimport f32_data
from tutelage._core.simd import simd_path
from tutelage._core.kernels cimport dense_forward, embedding_backward, gemm_rm

cnp.import_array()

cdef extern from *:
    """
    #include "simd_kernels.h"  /* CYTHON_RESTRICT, TUTELAGE_X86_64, TUTELAGE_TARGET_AVX2 */

    /* Every kernel is written once, as an always-inlined body in plain C whose loops the compiler
       vectorizes (no libm call; reductions in 8-float vectors of the GCC/clang vector extensions, plain
       loops for other compilers); it is compiled twice: a baseline
       function (default flags, any CPU) and, on x86-64, an ``_avx2`` function with the AVX2+FMA target
       attribute, picked per call from the SIMD path in use (tutelage._core.simd). */
    #if defined(__GNUC__) || defined(__clang__)
    #  define TT_INLINE static inline __attribute__((always_inline))
    #elif defined(_MSC_VER)
    #  define TT_INLINE static __forceinline
    #else
    #  define TT_INLINE static inline
    #endif
    #define TT_LANES 8

    /* exp in plain arithmetic: Cephes' polynomial on [-ln2/2, ln2/2], 2^n built in the exponent bits;
       0 below −86 (no subnormal results, which would slow every later operation on them). */
    TT_INLINE float tt_exp(float x) {
        union { float f; int i; } u;
        const float under = x < -86.0f ? 0.0f : 1.0f;
        x = x < -86.0f ? -86.0f : x;
        x = x > 88.0f ? 88.0f : x;
        float n = (x * 1.44269504f + 12582912.0f) - 12582912.0f;  /* round to nearest */
        float r = x - n * 0.693359375f + n * 2.12194440e-4f;
        float p = 1.9875691500e-4f;
        p = p * r + 1.3981999507e-3f;
        p = p * r + 8.3334519073e-3f;
        p = p * r + 4.1665795894e-2f;
        p = p * r + 1.6666665459e-1f;
        p = p * r + 5.0000001201e-1f;
        p = p * r * r + r + 1.0f;
        u.i = ((int)n + 127) << 23;
        return p * u.f * under;
    }

    #if defined(__GNUC__) || defined(__clang__)
    /* GCC/clang vector extensions: one AVX register in the _avx2 variants, two SSE ones in the baseline. */
    typedef float tt_v8 __attribute__((vector_size(32), aligned(4), may_alias));
    typedef int tt_i8 __attribute__((vector_size(32), aligned(4), may_alias));
    #  define TT_V8(p) (*(const tt_v8*)(p))
    TT_INLINE float tt_hsum(tt_v8 v) {
        float lane[TT_LANES], total = 0.0f;
        *(tt_v8*)lane = v;
        for (int l = 0; l < TT_LANES; l++) total += lane[l];
        return total;
    }

    TT_INLINE float tt_max(const float* x, Py_ssize_t n) {
        float top = x[0];
        Py_ssize_t j = 0;
        if (n >= TT_LANES) {
            tt_v8 m = TT_V8(x);
            for (j = TT_LANES; j + TT_LANES <= n; j += TT_LANES) {
                const tt_v8 v = TT_V8(x + j);
                const tt_i8 more = v > m;
                m = (tt_v8)(((tt_i8)v & more) | ((tt_i8)m & ~more));
            }
            float lane[TT_LANES];
            *(tt_v8*)lane = m;
            for (int l = 0; l < TT_LANES; l++) top = lane[l] > top ? lane[l] : top;
        }
        for (; j < n; j++) top = x[j] > top ? x[j] : top;
        return top;
    }

    /* Σ a·b over n (b may be NULL: Σ a). */
    TT_INLINE float tt_dot(const float* a, const float* b, Py_ssize_t n) {
        tt_v8 acc = {0};
        float total = 0.0f;
        Py_ssize_t j = 0;
        if (b != NULL) {
            for (; j + TT_LANES <= n; j += TT_LANES) acc += TT_V8(a + j) * TT_V8(b + j);
            for (; j < n; j++) total += a[j] * b[j];
        } else {
            for (; j + TT_LANES <= n; j += TT_LANES) acc += TT_V8(a + j);
            for (; j < n; j++) total += a[j];
        }
        return total + tt_hsum(acc);
    }

    /* Σ (a − shift)² over n. */
    TT_INLINE float tt_sqdev(const float* a, float shift, Py_ssize_t n) {
        tt_v8 acc = {0};
        float total = 0.0f;
        Py_ssize_t j = 0;
        for (; j + TT_LANES <= n; j += TT_LANES) {
            const tt_v8 v = TT_V8(a + j) - shift;
            acc += v * v;
        }
        for (; j < n; j++) total += (a[j] - shift) * (a[j] - shift);
        return total + tt_hsum(acc);
    }

    /* Σ a·(b − shift) over n. */
    TT_INLINE float tt_dot_shift(const float* a, const float* b, float shift, Py_ssize_t n) {
        tt_v8 acc = {0};
        float total = 0.0f;
        Py_ssize_t j = 0;
        for (; j + TT_LANES <= n; j += TT_LANES) acc += TT_V8(a + j) * (TT_V8(b + j) - shift);
        for (; j < n; j++) total += a[j] * (b[j] - shift);
        return total + tt_hsum(acc);
    }
    #else
    TT_INLINE float tt_max(const float* x, Py_ssize_t n) {
        float top = x[0];
        for (Py_ssize_t j = 1; j < n; j++) top = x[j] > top ? x[j] : top;
        return top;
    }

    TT_INLINE float tt_dot(const float* a, const float* b, Py_ssize_t n) {
        float total = 0.0f;
        for (Py_ssize_t j = 0; j < n; j++) total += b != NULL ? a[j] * b[j] : a[j];
        return total;
    }

    TT_INLINE float tt_sqdev(const float* a, float shift, Py_ssize_t n) {
        float total = 0.0f;
        for (Py_ssize_t j = 0; j < n; j++) total += (a[j] - shift) * (a[j] - shift);
        return total;
    }

    TT_INLINE float tt_dot_shift(const float* a, const float* b, float shift, Py_ssize_t n) {
        float total = 0.0f;
        for (Py_ssize_t j = 0; j < n; j++) total += a[j] * (b[j] - shift);
        return total;
    }
    #endif

    /* y = exp((x − top)·k) (y may be x); returns Σ y. */
    TT_INLINE float tt_exp_shift(const float* x, float* y, Py_ssize_t n, float top, float k) {
        Py_ssize_t j;
        for (j = 0; j < n; j++) y[j] = tt_exp((x[j] - top) * k);
        return tt_dot(y, NULL, n);
    }

    /* y += a·x (restrict parameters keep the inlined loops free of alias checks). */
    TT_INLINE void tt_axpy(float* CYTHON_RESTRICT y, const float* CYTHON_RESTRICT x, float a, Py_ssize_t n) {
        for (Py_ssize_t j = 0; j < n; j++) y[j] += a * x[j];
    }

    TT_INLINE void tt_scale(float* x, Py_ssize_t n, float k) {
        for (Py_ssize_t j = 0; j < n; j++) x[j] *= k;
    }

    /* y = x·Φ(x) and dy/dx = Φ(x) + x·φ(x); erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7). */
    TT_INLINE void gelu_body(const float* x, float* y, float* dy, Py_ssize_t n) {
        for (Py_ssize_t i = 0; i < n; i++) {
            float v = x[i], a = (v < 0.0f ? -v : v) * 0.70710678f;
            float e = tt_exp(-0.5f * v * v);
            float t = 1.0f / (1.0f + 0.3275911f * a);
            float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f
                         + t * 1.061405429f))));
            float half_erf = 0.5f * (1.0f - poly * e);
            float cdf = v < 0.0f ? 0.5f - half_erf : 0.5f + half_erf;
            y[i] = v * cdf;
            dy[i] = cdf + v * e * 0.39894228f;
        }
    }

    /* The t×t scores of one (batch row, head): row i becomes softmax over j ≤ i, zero above the diagonal. */
    TT_INLINE void causal_softmax_body(float* s, Py_ssize_t t) {
        for (Py_ssize_t i = 0; i < t; i++) {
            float* row = s + i * t;
            tt_scale(row, i + 1, 1.0f / tt_exp_shift(row, row, i + 1, tt_max(row, i + 1), 1.0f));
            for (Py_ssize_t j = i + 1; j < t; j++) row[j] = 0.0f;
        }
    }

    /* ds (holding dP) becomes dS = scale·P ⊙ (dP − Σ_j P·dP) row by row, zero above the diagonal as P is. */
    TT_INLINE void causal_softmax_grad_body(const float* p, float* ds, Py_ssize_t t, float scale) {
        for (Py_ssize_t i = 0; i < t; i++) {
            const float* CYTHON_RESTRICT row = p + i * t;
            float* CYTHON_RESTRICT g = ds + i * t;
            const float dot = tt_dot(row, g, i + 1);
            for (Py_ssize_t j = 0; j <= i; j++) g[j] = scale * row[j] * (g[j] - dot);
            for (Py_ssize_t j = i + 1; j < t; j++) g[j] = 0.0f;
        }
    }

    /* Row-wise layer norm; stats keeps (mean, 1/std) per row. */
    TT_INLINE void layer_norm_body(const float* x, float* y, Py_ssize_t rows, Py_ssize_t n, const float* gamma,
                                   const float* beta, float eps, float* stats) {
        for (Py_ssize_t r = 0; r < rows; r++) {
            const float* CYTHON_RESTRICT xr = x + r * n;
            float* CYTHON_RESTRICT yr = y + r * n;
            const float mean = tt_dot(xr, NULL, n) / (float)n;
            const float rstd = 1.0f / sqrtf(tt_sqdev(xr, mean, n) / (float)n + eps);
            stats[2 * r] = mean;
            stats[2 * r + 1] = rstd;
            for (Py_ssize_t j = 0; j < n; j++) yr[j] = (xr[j] - mean) * rstd * gamma[j] + beta[j];
        }
    }

    /* Its backward: dx (overwritten, or added to when accumulate) and dgamma, dbeta (accumulated).
       row holds n floats of work. */
    TT_INLINE void layer_norm_grad_body(const float* x, const float* dy, float* dx, Py_ssize_t rows, Py_ssize_t n,
                                        const float* gamma, const float* stats, float* dgamma, float* dbeta,
                                        int accumulate, float* row) {
        for (Py_ssize_t r = 0; r < rows; r++) {
            const float mean = stats[2 * r], rstd = stats[2 * r + 1];
            const float* CYTHON_RESTRICT xr = x + r * n;
            const float* CYTHON_RESTRICT dyr = dy + r * n;
            float* CYTHON_RESTRICT dxr = dx + r * n;
            float* CYTHON_RESTRICT xhat = row;
            for (Py_ssize_t j = 0; j < n; j++) {
                xhat[j] = (xr[j] - mean) * rstd;
                dgamma[j] += dyr[j] * xhat[j];
                dbeta[j] += dyr[j];
            }
            const float sum_g = tt_dot(dyr, gamma, n) / (float)n;
            float sum_gx = 0.0f;
            for (Py_ssize_t j = 0; j < n; j++) xhat[j] *= gamma[j];
            sum_gx = tt_dot(xhat, dyr, n) / (float)n;  /* Σ dy·γ·x̂ / n */
            if (accumulate)
                for (Py_ssize_t j = 0; j < n; j++)
                    dxr[j] += rstd * (dyr[j] * gamma[j] - sum_g - (xr[j] - mean) * rstd * sum_gx);
            else
                for (Py_ssize_t j = 0; j < n; j++)
                    dxr[j] = rstd * (dyr[j] * gamma[j] - sum_g - (xr[j] - mean) * rstd * sum_gx);
        }
    }

    /* Rows of y = residual + bias (residual may be NULL), ready for a GEMM that adds x·W; and db += Σ_rows dy. */
    TT_INLINE void rows_init_body(float* y, const float* residual, const float* bias, Py_ssize_t rows,
                                  Py_ssize_t n) {
        for (Py_ssize_t r = 0; r < rows; r++) {
            float* CYTHON_RESTRICT yr = y + r * n;
            if (residual != NULL) {
                const float* CYTHON_RESTRICT rr = residual + r * n;
                for (Py_ssize_t j = 0; j < n; j++) yr[j] = rr[j] + bias[j];
            } else {
                for (Py_ssize_t j = 0; j < n; j++) yr[j] = bias[j];
            }
        }
    }

    TT_INLINE void column_sums_body(const float* dy, float* db, Py_ssize_t rows, Py_ssize_t n) {
        for (Py_ssize_t r = 0; r < rows; r++) {
            const float* CYTHON_RESTRICT dyr = dy + r * n;
            float* CYTHON_RESTRICT out = db;
            for (Py_ssize_t j = 0; j < n; j++) out[j] += dyr[j];
        }
    }

    /* Mean over rows of −log softmax(logits)[target] and its gradient (and each row's value when
       each != NULL); returns the total, or −1 − r for the first row r with a bad target. */
    TT_INLINE double cross_entropy_body(const float* l, const float* t, float* g, float* each, Py_ssize_t rows,
                                        Py_ssize_t vocab) {
        double total = 0.0;
        const float inv_rows = 1.0f / (float)rows;
        for (Py_ssize_t r = 0; r < rows; r++) {
            const Py_ssize_t target = (Py_ssize_t)t[r];
            if (target < 0 || target >= vocab || (float)target != t[r]) return -1.0 - (double)r;
            const float* row = l + r * vocab;
            float* grow = g + r * vocab;
            const float top = tt_max(row, vocab);
            const float norm = tt_exp_shift(row, grow, vocab, top, 1.0f);
            tt_scale(grow, vocab, inv_rows / norm);
            grow[target] -= inv_rows;
            const double value = log((double)norm) + top - row[target];
            total += value;
            if (each != NULL) each[r] = (float)value;
        }
        return total;
    }

    /* Token distillation: the total over rows of −Σ p·log softmax(l/T), and g = its mean's gradient w.r.t.
       the logits times T², (T/rows)·(softmax(l/T)·Σp − p). */
    TT_INLINE double soft_cross_entropy_body(const float* l, const float* q, float* g, Py_ssize_t rows,
                                             Py_ssize_t vocab, float temperature) {
        double total = 0.0;
        const float inv_t = 1.0f / temperature, factor = temperature / (float)rows;
        for (Py_ssize_t r = 0; r < rows; r++) {
            const float* CYTHON_RESTRICT row = l + r * vocab;
            const float* CYTHON_RESTRICT p = q + r * vocab;
            float* CYTHON_RESTRICT grow = g + r * vocab;
            const float top = tt_max(row, vocab);
            const float norm = tt_exp_shift(row, grow, vocab, top, inv_t);
            const float mass = tt_dot(p, NULL, vocab);
            total += (double)mass * log((double)norm) - (double)tt_dot_shift(p, row, top, vocab) * inv_t;
            const float a = factor * mass / norm;
            for (Py_ssize_t j = 0; j < vocab; j++) grow[j] = a * grow[j] - factor * p[j];
        }
        return total;
    }

    #define TT_VARIANTS(SUFFIX, TARGET) \
        TARGET static void gelu##SUFFIX(const float* x, float* y, float* dy, Py_ssize_t n) { \
            gelu_body(x, y, dy, n); } \
        TARGET static void causal_softmax##SUFFIX(float* s, Py_ssize_t t) { causal_softmax_body(s, t); } \
        TARGET static void causal_softmax_grad##SUFFIX(const float* p, float* ds, Py_ssize_t t, float scale) { \
            causal_softmax_grad_body(p, ds, t, scale); } \
        TARGET static void layer_norm##SUFFIX(const float* x, float* y, Py_ssize_t rows, Py_ssize_t n, \
                const float* gamma, const float* beta, float eps, float* stats) { \
            layer_norm_body(x, y, rows, n, gamma, beta, eps, stats); } \
        TARGET static void layer_norm_grad##SUFFIX(const float* x, const float* dy, float* dx, Py_ssize_t rows, \
                Py_ssize_t n, const float* gamma, const float* stats, float* dgamma, float* dbeta, int accumulate, \
                float* row) { \
            layer_norm_grad_body(x, dy, dx, rows, n, gamma, stats, dgamma, dbeta, accumulate, row); } \
        TARGET static void rows_init##SUFFIX(float* y, const float* residual, const float* bias, Py_ssize_t rows, \
                Py_ssize_t n) { rows_init_body(y, residual, bias, rows, n); } \
        TARGET static void column_sums##SUFFIX(const float* dy, float* db, Py_ssize_t rows, Py_ssize_t n) { \
            column_sums_body(dy, db, rows, n); } \
        TARGET static double cross_entropy##SUFFIX(const float* l, const float* t, float* g, float* each, \
                Py_ssize_t rows, Py_ssize_t vocab) { \
            return cross_entropy_body(l, t, g, each, rows, vocab); } \
        TARGET static double soft_cross_entropy##SUFFIX(const float* l, const float* q, float* g, Py_ssize_t rows, \
                Py_ssize_t vocab, float temperature) { \
            return soft_cross_entropy_body(l, q, g, rows, vocab, temperature); }

    TT_VARIANTS(_baseline, )
    #ifdef TUTELAGE_X86_64
    TT_VARIANTS(_avx2, TUTELAGE_TARGET_AVX2)
    #else
    #  define gelu_avx2 gelu_baseline
    #  define causal_softmax_avx2 causal_softmax_baseline
    #  define causal_softmax_grad_avx2 causal_softmax_grad_baseline
    #  define cross_entropy_avx2 cross_entropy_baseline
    #  define soft_cross_entropy_avx2 soft_cross_entropy_baseline
    #  define layer_norm_avx2 layer_norm_baseline
    #  define layer_norm_grad_avx2 layer_norm_grad_baseline
    #  define rows_init_avx2 rows_init_baseline
    #  define column_sums_avx2 column_sums_baseline
    #endif
    """
    float tt_max(const float* x, Py_ssize_t n) noexcept nogil
    float tt_exp_shift(const float* x, float* y, Py_ssize_t n, float top, float k) noexcept nogil
    void gelu_baseline(const float* x, float* y, float* dy, Py_ssize_t n) noexcept nogil
    void gelu_avx2(const float* x, float* y, float* dy, Py_ssize_t n) noexcept nogil
    void causal_softmax_baseline(float* s, Py_ssize_t t) noexcept nogil
    void causal_softmax_avx2(float* s, Py_ssize_t t) noexcept nogil
    void causal_softmax_grad_baseline(const float* p, float* ds, Py_ssize_t t, float scale) noexcept nogil
    void causal_softmax_grad_avx2(const float* p, float* ds, Py_ssize_t t, float scale) noexcept nogil
    void layer_norm_baseline(const float* x, float* y, Py_ssize_t rows, Py_ssize_t n, const float* gamma,
                             const float* beta, float eps, float* stats) noexcept nogil
    void layer_norm_avx2(const float* x, float* y, Py_ssize_t rows, Py_ssize_t n, const float* gamma,
                         const float* beta, float eps, float* stats) noexcept nogil
    void layer_norm_grad_baseline(const float* x, const float* dy, float* dx, Py_ssize_t rows, Py_ssize_t n,
                                  const float* gamma, const float* stats, float* dgamma, float* dbeta,
                                  int accumulate, float* row) noexcept nogil
    void layer_norm_grad_avx2(const float* x, const float* dy, float* dx, Py_ssize_t rows, Py_ssize_t n,
                              const float* gamma, const float* stats, float* dgamma, float* dbeta,
                              int accumulate, float* row) noexcept nogil
    void rows_init_baseline(float* y, const float* residual, const float* bias, Py_ssize_t rows,
                            Py_ssize_t n) noexcept nogil
    void rows_init_avx2(float* y, const float* residual, const float* bias, Py_ssize_t rows,
                        Py_ssize_t n) noexcept nogil
    void column_sums_baseline(const float* dy, float* db, Py_ssize_t rows, Py_ssize_t n) noexcept nogil
    void column_sums_avx2(const float* dy, float* db, Py_ssize_t rows, Py_ssize_t n) noexcept nogil
    double cross_entropy_baseline(const float* l, const float* t, float* g, float* each, Py_ssize_t rows,
                                  Py_ssize_t vocab) noexcept nogil
    double cross_entropy_avx2(const float* l, const float* t, float* g, float* each, Py_ssize_t rows,
                              Py_ssize_t vocab) noexcept nogil
    double soft_cross_entropy_baseline(const float* l, const float* q, float* g, Py_ssize_t rows,
                                       Py_ssize_t vocab, float temperature) noexcept nogil
    double soft_cross_entropy_avx2(const float* l, const float* q, float* g, Py_ssize_t rows,
                                   Py_ssize_t vocab, float temperature) noexcept nogil


cdef bint avx2():
    """Whether the AVX2 variants run: the SIMD path chosen in :mod:`tutelage._core.simd` (env, tests)."""
    return simd_path() == "avx2"


cdef inline void softmax_inplace(float* row, Py_ssize_t n) noexcept nogil:
    cdef float total = tt_exp_shift(row, row, n, tt_max(row, n), 1.0)
    cdef Py_ssize_t j
    total = 1.0 / total
    for j in range(n):
        row[j] *= total


def causal_attention_forward(qkv, out, probs, Py_ssize_t batch, Py_ssize_t time, Py_ssize_t heads):
    """``out[b, :, head] = softmax(QKᵀ/√hd + causal mask)·V`` for every batch row and head."""
    cdef Py_ssize_t d = qkv.size // max(batch * time * 3, 1), hd = d // heads, b, h
    cdef float* x = f32_data(qkv, batch * time * 3 * d, "qkv")
    cdef float* y = f32_data(out, batch * time * d, "out")
    cdef float* p = f32_data(probs, batch * heads * time * time, "probs")
    cdef float scale = 1.0 / sqrtf(<float>hd)
    cdef float* base
    cdef float* s
    cdef int t = <int>time, k = <int>hd, ld3 = <int>(3 * d), ld = <int>d
    cdef bint fast = avx2()
    with nogil:
        for b in range(batch):
            base = x + b * time * 3 * d
            for h in range(heads):
                s = p + (b * heads + h) * time * time
                gemm_rm(False, True, t, t, k, scale, base + h * hd, ld3, base + d + h * hd, ld3, 0.0, s, t)
                if fast:
                    causal_softmax_avx2(s, time)
                else:
                    causal_softmax_baseline(s, time)
                gemm_rm(False, False, t, k, t, 1.0, s, t, base + 2 * d + h * hd, ld3, 0.0,
                        y + b * time * d + h * hd, ld)


def causal_attention_backward(qkv, probs, dout, dqkv, scratch, Py_ssize_t batch, Py_ssize_t time,
                              Py_ssize_t heads):
    """``dqkv`` from ``dout`` through the saved ``probs``; ``scratch`` holds ``time×time`` floats."""
    cdef Py_ssize_t d = qkv.size // max(batch * time * 3, 1), hd = d // heads, b, h
    cdef float* x = f32_data(qkv, batch * time * 3 * d, "qkv")
    cdef float* p = f32_data(probs, batch * heads * time * time, "probs")
    cdef float* dy = f32_data(dout, batch * time * d, "dout")
    cdef float* dx = f32_data(dqkv, batch * time * 3 * d, "dqkv")
    cdef float* ds = f32_data(scratch, time * time, "scratch")
    cdef float scale = 1.0 / sqrtf(<float>hd)
    cdef float* base
    cdef float* dbase
    cdef float* s
    cdef float* dyb
    cdef int t = <int>time, k = <int>hd, ld3 = <int>(3 * d), ld = <int>d
    cdef bint fast = avx2()
    with nogil:
        for b in range(batch):
            base = x + b * time * 3 * d
            dbase = dx + b * time * 3 * d
            dyb = dy + b * time * d
            for h in range(heads):
                s = p + (b * heads + h) * time * time
                # dP = dO·Vᵀ, dV = Pᵀ·dO
                gemm_rm(False, True, t, t, k, 1.0, dyb + h * hd, ld, base + 2 * d + h * hd, ld3, 0.0, ds, t)
                gemm_rm(True, False, t, k, t, 1.0, s, t, dyb + h * hd, ld, 0.0, dbase + 2 * d + h * hd, ld3)
                if fast:
                    causal_softmax_grad_avx2(s, ds, time, scale)
                else:
                    causal_softmax_grad_baseline(s, ds, time, scale)
                # dQ = dS·K, dK = dSᵀ·Q
                gemm_rm(False, False, t, k, t, 1.0, ds, t, base + d + h * hd, ld3, 0.0, dbase + h * hd, ld3)
                gemm_rm(True, False, t, k, t, 1.0, ds, t, base + h * hd, ld3, 0.0, dbase + d + h * hd, ld3)


def attention_step(qkv, kcache, vcache, out, scores, Py_ssize_t position, Py_ssize_t heads):
    """One new token: append its k, v at ``position`` of the caches, attend over ``0 … position``.

    ``qkv`` is one row ``[q | k | v]`` (3·d); the caches are ``(capacity, d)``;
    ``scores`` holds at least ``position + 1`` floats.
    """
    cdef Py_ssize_t d = qkv.size // 3, hd = d // heads, h, j, c
    cdef Py_ssize_t capacity = kcache.size // max(d, 1)
    if position < 0 or position >= capacity:
        raise ValueError(f"position {position} is outside the cache of {capacity} positions")
    cdef float* x = f32_data(qkv, 3 * d, "qkv")
    cdef float* kc = f32_data(kcache, capacity * d, "kcache")
    cdef float* vc = f32_data(vcache, capacity * d, "vcache")
    cdef float* y = f32_data(out, d, "out")
    cdef float* s = f32_data(scores, scores.size, "scores")
    if scores.size < position + 1:
        raise ValueError("scores is shorter than the attended positions")
    cdef float scale = 1.0 / sqrtf(<float>hd), acc
    with nogil:
        for c in range(d):
            kc[position * d + c] = x[d + c]
            vc[position * d + c] = x[2 * d + c]
        for h in range(heads):
            for j in range(position + 1):
                acc = 0.0
                for c in range(h * hd, (h + 1) * hd):
                    acc += x[c] * kc[j * d + c]
                s[j] = acc * scale
            softmax_inplace(s, position + 1)
            for c in range(h * hd, (h + 1) * hd):
                y[c] = 0.0
            for j in range(position + 1):
                acc = s[j]
                for c in range(h * hd, (h + 1) * hd):
                    y[c] += acc * vc[j * d + c]


def sequence_cross_entropy(logits, targets, dlogits, Py_ssize_t rows, Py_ssize_t vocab, per_row=None):
    """Mean over rows of ``−log softmax(logits)[target]``; ``dlogits`` = its gradient. Returns -1 - bad row on a bad id."""
    cdef float* l = f32_data(logits, rows * vocab, "logits")
    cdef float* t = f32_data(targets, rows, "targets")
    cdef float* g = f32_data(dlogits, rows * vocab, "dlogits")
    cdef float* each = f32_data(per_row, rows, "per_row") if per_row is not None else NULL
    cdef double total
    cdef bint fast = avx2()
    with nogil:
        if fast:
            total = cross_entropy_avx2(l, t, g, each, rows, vocab)
        else:
            total = cross_entropy_baseline(l, t, g, each, rows, vocab)
    return total if total < 0 else total / rows


def soft_cross_entropy(logits, probs, dlogits, Py_ssize_t rows, Py_ssize_t vocab, float temperature):
    """Mean over rows of ``−Σ p·log softmax(logits/T)`` (token distillation); gradient w.r.t. ``logits`` × T²."""
    cdef float* l = f32_data(logits, rows * vocab, "logits")
    cdef float* q = f32_data(probs, rows * vocab, "probs")
    cdef float* g = f32_data(dlogits, rows * vocab, "dlogits")
    cdef double total
    cdef bint fast = avx2()
    with nogil:
        if fast:
            total = soft_cross_entropy_avx2(l, q, g, rows, vocab, temperature)
        else:
            total = soft_cross_entropy_baseline(l, q, g, rows, vocab, temperature)
    return total / rows


# -- dense, layer norm, GELU and embedding kernels, callable from Python -----------------------------------

def dense(x, w, b, y, Py_ssize_t rows, Py_ssize_t n_in, Py_ssize_t n_out, residual=None):
    """``y = x·W + b`` (W is n_in × n_out), plus ``residual`` (rows × n_out) when given: one GEMM either way."""
    cdef float* xp = f32_data(x, rows * n_in, "x")
    cdef float* wp = f32_data(w, n_in * n_out, "w")
    cdef float* bp = f32_data(b, n_out, "b")
    cdef float* yp = f32_data(y, rows * n_out, "y")
    cdef float* rp = f32_data(residual, rows * n_out, "residual") if residual is not None else NULL
    cdef bint fast
    if rows == 1 and rp == NULL:  # batch-1 decoding: the SIMD matvec of the op-table executor
        with nogil:
            dense_forward(xp, rows, n_in, n_out, wp, bp, yp)
        return
    fast = avx2()
    with nogil:
        if fast:
            rows_init_avx2(yp, rp, bp, rows, n_out)
        else:
            rows_init_baseline(yp, rp, bp, rows, n_out)
        gemm_rm(False, False, <int>rows, <int>n_out, <int>n_in, 1.0, xp, <int>n_in, wp, <int>n_out, 1.0, yp,
                <int>n_out)


def dense_grad(x, dy, w, dw, db, dx, Py_ssize_t rows, Py_ssize_t n_in, Py_ssize_t n_out):
    """``dW += xᵀ·dy``, ``db += Σ dy``, ``dx = dy·Wᵀ`` (``dx`` may be None)."""
    cdef float* xp = f32_data(x, rows * n_in, "x")
    cdef float* dyp = f32_data(dy, rows * n_out, "dy")
    cdef float* wp = f32_data(w, n_in * n_out, "w")
    cdef float* dwp = f32_data(dw, n_in * n_out, "dw")
    cdef float* dbp = f32_data(db, n_out, "db")
    cdef float* dxp = f32_data(dx, rows * n_in, "dx") if dx is not None else NULL
    cdef bint fast = avx2()
    with nogil:
        if fast:
            column_sums_avx2(dyp, dbp, rows, n_out)
        else:
            column_sums_baseline(dyp, dbp, rows, n_out)
        gemm_rm(True, False, <int>n_in, <int>n_out, <int>rows, 1.0, xp, <int>n_in, dyp, <int>n_out, 1.0, dwp,
                <int>n_out)
        if dxp != NULL:
            gemm_rm(False, True, <int>rows, <int>n_in, <int>n_out, 1.0, dyp, <int>n_out, wp, <int>n_out, 0.0, dxp,
                    <int>n_in)


def layer_norm(x, y, gamma, beta, stats, Py_ssize_t rows, Py_ssize_t n, float eps):
    """Row-wise layer norm; ``stats`` (2·rows) keeps mean and 1/std."""
    cdef float* xp = f32_data(x, rows * n, "x")
    cdef float* yp = f32_data(y, rows * n, "y")
    cdef float* gp = f32_data(gamma, n, "gamma")
    cdef float* bp = f32_data(beta, n, "beta")
    cdef float* sp = f32_data(stats, 2 * rows, "stats")
    cdef bint fast = avx2()
    with nogil:
        if fast:
            layer_norm_avx2(xp, yp, rows, n, gp, bp, eps, sp)
        else:
            layer_norm_baseline(xp, yp, rows, n, gp, bp, eps, sp)


def layer_norm_grad(x, dy, dx, gamma, stats, dgamma, dbeta, Py_ssize_t rows, Py_ssize_t n, bint accumulate=False):
    """Layer-norm backward: overwrites ``dx`` (adds to it when ``accumulate``), accumulates ``dgamma``, ``dbeta``."""
    cdef float* xp = f32_data(x, rows * n, "x")
    cdef float* dyp = f32_data(dy, rows * n, "dy")
    cdef float* dxp = f32_data(dx, rows * n, "dx")
    cdef float* gp = f32_data(gamma, n, "gamma")
    cdef float* sp = f32_data(stats, 2 * rows, "stats")
    cdef float* dgp = f32_data(dgamma, n, "dgamma")
    cdef float* dbp = f32_data(dbeta, n, "dbeta")
    cdef float* row = <float*>malloc(max(n, 1) * sizeof(float))
    cdef bint fast = avx2()
    if row == NULL:
        raise MemoryError()
    with nogil:
        if fast:
            layer_norm_grad_avx2(xp, dyp, dxp, rows, n, gp, sp, dgp, dbp, accumulate, row)
        else:
            layer_norm_grad_baseline(xp, dyp, dxp, rows, n, gp, sp, dgp, dbp, accumulate, row)
    free(row)


def gelu(x, y, slope, Py_ssize_t n):
    """Exact (erf) GELU ``y``; ``slope`` receives dy/dx, all the backward pass needs."""
    cdef float* xp = f32_data(x, n, "x")
    cdef float* yp = f32_data(y, n, "y")
    cdef float* sp = f32_data(slope, n, "slope")
    cdef bint fast = avx2()
    with nogil:
        if fast:
            gelu_avx2(xp, yp, sp, n)
        else:
            gelu_baseline(xp, yp, sp, n)


def embedding_grad(ids, dy, dw, Py_ssize_t rows, Py_ssize_t dim):
    """``dw[ids[r]] += dy[r]`` for every row (ids as float32, checked by the caller)."""
    cdef float* ip = f32_data(ids, rows, "ids")
    cdef float* dyp = f32_data(dy, rows * dim, "dy")
    cdef float* dwp = f32_data(dw, dw.size, "dw")
    with nogil:
        embedding_backward(ip, dyp, rows, dim, dwp)
