/* The float kernels (matvec, tanh) once, written over a vector type that the including file
 * describes with these macros (simd_avx2.c, simd_neon.c):
 *   TT_V vector of floats, TT_W its lanes, TT_LOAD(p), TT_STORE(p, v), TT_SET1(x), TT_ADD(a, b),
 *   TT_MUL(a, b), TT_FMA(a, b, c) = a·b + c, TT_MIN(a, b) and TT_MAX(a, b) returning b when b is
 *   NaN, TT_DIV(a, b), TT_TARGET (the functions' target attribute, may be empty) and TT_NAME(f)
 *   (the table's name for kernel f).
 * No include guard: each table's file includes it once, with its own macros.
 */

/* y += x·W: four rows of W per pass, two independent product pairs per vector of outputs. */
TT_TARGET
static void TT_NAME(matvec)(const float *CYTHON_RESTRICT x, const float *CYTHON_RESTRICT w,
                            float *CYTHON_RESTRICT y, ptrdiff_t n_in, ptrdiff_t n_out) {
    ptrdiff_t i = 0, j;
    for (; i + 4 <= n_in; i += 4) {
        const float *w0 = w + i * n_out, *w1 = w0 + n_out, *w2 = w1 + n_out, *w3 = w2 + n_out;
        const TT_V x0 = TT_SET1(x[i]), x1 = TT_SET1(x[i + 1]), x2 = TT_SET1(x[i + 2]), x3 = TT_SET1(x[i + 3]);
        for (j = 0; j + TT_W <= n_out; j += TT_W) {
            const TT_V a = TT_FMA(x1, TT_LOAD(w1 + j), TT_MUL(x0, TT_LOAD(w0 + j)));
            const TT_V b = TT_FMA(x3, TT_LOAD(w3 + j), TT_MUL(x2, TT_LOAD(w2 + j)));
            TT_STORE(y + j, TT_ADD(TT_LOAD(y + j), TT_ADD(a, b)));
        }
        for (; j < n_out; j++) y[j] += x[i] * w0[j] + x[i + 1] * w1[j] + x[i + 2] * w2[j] + x[i + 3] * w3[j];
    }
    for (; i < n_in; i++) {
        const float *wi = w + i * n_out;
        const TT_V xi = TT_SET1(x[i]);
        for (j = 0; j + TT_W <= n_out; j += TT_W) TT_STORE(y + j, TT_FMA(xi, TT_LOAD(wi + j), TT_LOAD(y + j)));
        for (; j < n_out; j++) y[j] += x[i] * wi[j];
    }
}

TT_TARGET
static void TT_NAME(tanh)(const float *CYTHON_RESTRICT x, float *CYTHON_RESTRICT y, ptrdiff_t n) {
    const TT_V hi = TT_SET1(TUTELAGE_TANH_CLAMP), lo = TT_SET1(-TUTELAGE_TANH_CLAMP);
    ptrdiff_t i = 0;
    for (; i + TT_W <= n; i += TT_W) {
        const TT_V v = TT_MAX(lo, TT_MIN(hi, TT_LOAD(x + i)));  /* the input second: NaN passes through */
        const TT_V v2 = TT_MUL(v, v);
        TT_V p = TT_FMA(v2, TT_SET1(TUTELAGE_TANH_P0), TT_SET1(TUTELAGE_TANH_P1));
        p = TT_FMA(v2, p, TT_SET1(TUTELAGE_TANH_P2));
        p = TT_FMA(v2, p, TT_SET1(TUTELAGE_TANH_P3));
        p = TT_FMA(v2, p, TT_SET1(TUTELAGE_TANH_P4));
        p = TT_FMA(v2, p, TT_SET1(TUTELAGE_TANH_P5));
        p = TT_FMA(v2, p, TT_SET1(TUTELAGE_TANH_P6));
        TT_V q = TT_FMA(v2, TT_SET1(TUTELAGE_TANH_Q0), TT_SET1(TUTELAGE_TANH_Q1));
        q = TT_FMA(v2, q, TT_SET1(TUTELAGE_TANH_Q2));
        q = TT_FMA(v2, q, TT_SET1(TUTELAGE_TANH_Q3));
        TT_STORE(y + i, TT_DIV(TT_MUL(v, p), q));
    }
    for (; i < n; i++) y[i] = tutelage_tanh1(x[i]);
}
