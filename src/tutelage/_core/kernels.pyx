# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Layer kernels: row-major float32 on raw pointers, no Python, no GIL.

Large products go through BLAS (``scipy.linalg.cython_blas``). The batch-1
dense product of a small layer and tanh are short C loops (below), since a
BLAS call costs more than the arithmetic there and libm's tanhf does not
vectorize; both run from the SIMD table chosen at import (``simd.pyx``).
"""
from libc.math cimport erff, expf, logf, sqrtf
from libc.stdint cimport uint64_t
from libc.string cimport memcpy, memset
from scipy.linalg.cython_blas cimport sgemm, sgemv

from tutelage._core cimport simd

# Below this many weights a batch-1 dense layer is a C loop, above it sgemv.
cdef Py_ssize_t SMALL_MATVEC = 32768
cdef float INV_SQRT2 = 0.70710678118654752
cdef float INV_SQRT_2PI = 0.39894228040143268


cdef void gemm_rm(bint trans_a, bint trans_b, int m, int n, int k, float alpha, float* a, int lda,
                  float* b, int ldb, float beta, float* c, int ldc) noexcept nogil:
    """Row-major ``C (m×n) = alpha·op(A)·op(B) + beta·C`` through column-major sgemm (C^T = B^T A^T)."""
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    sgemm(&tb, &ta, &n, &m, &k, &alpha, b, &ldb, a, &lda, &beta, c, &ldc)


# -- dense ------------------------------------------------------------------

cdef void dense_forward(float* x, Py_ssize_t rows, Py_ssize_t n_in, Py_ssize_t n_out,
                        float* w, float* b, float* y) noexcept nogil:
    """``y = x·W + b`` with W stored (n_in × n_out)."""
    cdef Py_ssize_t r
    cdef int m = <int>n_out, n = <int>n_in, one = 1
    cdef float alpha = 1.0, beta = 1.0
    for r in range(rows):
        memcpy(y + r * n_out, b, n_out * sizeof(float))
    if rows == 1 and n_in * n_out <= SMALL_MATVEC:
        simd.matvec(x, w, y, n_in, n_out)
    elif rows == 1:
        sgemv(b'N', &m, &n, &alpha, w, &m, x, &one, &beta, y, &one)
    else:
        gemm_rm(False, False, <int>rows, <int>n_out, <int>n_in, 1.0, x, <int>n_in, w, <int>n_out, 1.0, y, <int>n_out)


cdef void dense_backward(float* x, float* dy, Py_ssize_t rows, Py_ssize_t n_in, Py_ssize_t n_out,
                         float* w, float* dw, float* db, float* dx) noexcept nogil:
    """``dW += xᵀ·dy``, ``db += Σ dy``, ``dx = dy·Wᵀ``: three products, no copies."""
    cdef Py_ssize_t r, j
    cdef float* dyr
    for r in range(rows):
        dyr = dy + r * n_out
        for j in range(n_out):
            db[j] += dyr[j]
    gemm_rm(True, False, <int>n_in, <int>n_out, <int>rows, 1.0, x, <int>n_in, dy, <int>n_out, 1.0, dw, <int>n_out)
    if dx != NULL:
        gemm_rm(False, True, <int>rows, <int>n_in, <int>n_out, 1.0, dy, <int>n_out, w, <int>n_out, 0.0, dx, <int>n_in)


# -- element-wise activations -------------------------------------------------

cdef void tanh_forward(float* x, float* y, Py_ssize_t n) noexcept nogil:
    simd.tanh(x, y, n)


cdef void tanh_backward(float* y, float* dy, float* dx, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dx[i] = dy[i] * (1.0 - y[i] * y[i])


cdef void relu_forward(float* x, float* y, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        y[i] = x[i] if x[i] > 0.0 else 0.0


cdef void relu_backward(float* y, float* dy, float* dx, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dx[i] = dy[i] if y[i] > 0.0 else 0.0


cdef void sigmoid_forward(float* x, float* y, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        y[i] = 1.0 / (1.0 + expf(-x[i]))


cdef void sigmoid_backward(float* y, float* dy, float* dx, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dx[i] = dy[i] * y[i] * (1.0 - y[i])


cdef void gelu_forward(float* x, float* y, Py_ssize_t n) noexcept nogil:
    """Exact GELU, ``x·Φ(x)`` (PyTorch's default)."""
    cdef Py_ssize_t i
    for i in range(n):
        y[i] = 0.5 * x[i] * (1.0 + erff(x[i] * INV_SQRT2))


cdef void gelu_backward(float* x, float* dy, float* dx, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        dx[i] = dy[i] * (0.5 * (1.0 + erff(v * INV_SQRT2)) + v * INV_SQRT_2PI * expf(-0.5 * v * v))


cdef void multiply(float* a, float* b, float* out, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        out[i] = a[i] * b[i]


# -- row-wise: softmax, log-softmax, layer norm ---------------------------------

cdef inline float row_max(float* x, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t j
    cdef float top = x[0]
    for j in range(1, n):
        top = x[j] if x[j] > top else top
    return top


cdef void softmax_forward(float* x, float* y, Py_ssize_t rows, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t r, j
    cdef float top, total
    cdef float* xr
    cdef float* yr
    for r in range(rows):
        xr = x + r * n
        yr = y + r * n
        top = row_max(xr, n)
        total = 0.0
        for j in range(n):
            yr[j] = expf(xr[j] - top)
            total += yr[j]
        total = 1.0 / total
        for j in range(n):
            yr[j] *= total


cdef void softmax_backward(float* y, float* dy, float* dx, Py_ssize_t rows, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t r, j
    cdef float dot
    for r in range(rows):
        dot = 0.0
        for j in range(n):
            dot += dy[r * n + j] * y[r * n + j]
        for j in range(n):
            dx[r * n + j] = y[r * n + j] * (dy[r * n + j] - dot)


cdef void log_softmax_forward(float* x, float* y, Py_ssize_t rows, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t r, j
    cdef float top, total
    cdef float* xr
    for r in range(rows):
        xr = x + r * n
        top = row_max(xr, n)
        total = 0.0
        for j in range(n):
            total += expf(xr[j] - top)
        total = top + logf(total)
        for j in range(n):
            y[r * n + j] = xr[j] - total


cdef void log_softmax_backward(float* y, float* dy, float* dx, Py_ssize_t rows, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t r, j
    cdef float total
    for r in range(rows):
        total = 0.0
        for j in range(n):
            total += dy[r * n + j]
        for j in range(n):
            dx[r * n + j] = dy[r * n + j] - expf(y[r * n + j]) * total


cdef void layer_norm_forward(float* x, float* y, Py_ssize_t rows, Py_ssize_t n, float* gamma, float* beta,
                             float eps, float* stats) noexcept nogil:
    """Normalize each row; ``stats`` receives (mean, 1/std) per row for the backward pass."""
    cdef Py_ssize_t r, j
    cdef float mean, var, rstd, d
    cdef float* xr
    for r in range(rows):
        xr = x + r * n
        mean = 0.0
        for j in range(n):
            mean += xr[j]
        mean /= n
        var = 0.0
        for j in range(n):
            d = xr[j] - mean
            var += d * d
        rstd = 1.0 / sqrtf(var / n + eps)
        stats[2 * r] = mean
        stats[2 * r + 1] = rstd
        for j in range(n):
            y[r * n + j] = (xr[j] - mean) * rstd * gamma[j] + beta[j]


cdef void layer_norm_backward(float* x, float* dy, float* dx, Py_ssize_t rows, Py_ssize_t n, float* gamma,
                              float* stats, float* dgamma, float* dbeta) noexcept nogil:
    cdef Py_ssize_t r, j
    cdef float mean, rstd, xhat, g, sum_g, sum_gx
    for r in range(rows):
        mean = stats[2 * r]
        rstd = stats[2 * r + 1]
        sum_g = 0.0
        sum_gx = 0.0
        for j in range(n):
            xhat = (x[r * n + j] - mean) * rstd
            g = dy[r * n + j] * gamma[j]
            dgamma[j] += dy[r * n + j] * xhat
            dbeta[j] += dy[r * n + j]
            sum_g += g
            sum_gx += g * xhat
        if dx != NULL:
            sum_g /= n
            sum_gx /= n
            for j in range(n):
                xhat = (x[r * n + j] - mean) * rstd
                dx[r * n + j] = rstd * (dy[r * n + j] * gamma[j] - sum_g - xhat * sum_gx)


# -- embedding ---------------------------------------------------------------------

cdef int embedding_forward(float* ids, float* y, Py_ssize_t rows, Py_ssize_t dim, Py_ssize_t vocab,
                           float* w) noexcept nogil:
    """Copy row ``ids[r]`` of the table; returns the first bad position, or -1 when all ids are valid."""
    cdef Py_ssize_t r, token
    for r in range(rows):
        token = <Py_ssize_t>ids[r]
        if token < 0 or token >= vocab or <float>token != ids[r]:
            return <int>r
        memcpy(y + r * dim, w + token * dim, dim * sizeof(float))
    return -1


cdef void embedding_backward(float* ids, float* dy, Py_ssize_t rows, Py_ssize_t dim, float* dw) noexcept nogil:
    cdef Py_ssize_t r, j
    cdef float* row
    for r in range(rows):
        row = dw + (<Py_ssize_t>ids[r]) * dim
        for j in range(dim):
            row[j] += dy[r * dim + j]


# -- convolution and pooling (one sample, CHW) -----------------------------------

cdef void im2col(float* x, float* cols, int c, int h, int w, int k, int stride, int pad) noexcept nogil:
    """``cols`` (c·k·k × oh·ow): each column is one receptive field, zero outside the image."""
    cdef int oh = (h + 2 * pad - k) // stride + 1
    cdef int ow = (w + 2 * pad - k) // stride + 1
    cdef int ch, ki, kj, oy, ox, iy, ix
    cdef float* row = cols
    for ch in range(c):
        for ki in range(k):
            for kj in range(k):
                for oy in range(oh):
                    iy = oy * stride - pad + ki
                    for ox in range(ow):
                        ix = ox * stride - pad + kj
                        if 0 <= iy < h and 0 <= ix < w:
                            row[oy * ow + ox] = x[(ch * h + iy) * w + ix]
                        else:
                            row[oy * ow + ox] = 0.0
                row += oh * ow


cdef void col2im(float* cols, float* dx, int c, int h, int w, int k, int stride, int pad) noexcept nogil:
    """Scatter-add columns back onto the image (the adjoint of :func:`im2col`)."""
    cdef int oh = (h + 2 * pad - k) // stride + 1
    cdef int ow = (w + 2 * pad - k) // stride + 1
    cdef int ch, ki, kj, oy, ox, iy, ix
    cdef float* row = cols
    memset(dx, 0, c * h * w * sizeof(float))
    for ch in range(c):
        for ki in range(k):
            for kj in range(k):
                for oy in range(oh):
                    iy = oy * stride - pad + ki
                    if 0 <= iy < h:
                        for ox in range(ow):
                            ix = ox * stride - pad + kj
                            if 0 <= ix < w:
                                dx[(ch * h + iy) * w + ix] += row[oy * ow + ox]
                row += oh * ow


cdef void conv2d_forward(float* x, float* y, float* cols, int c, int h, int w, int oc, int k, int stride,
                         int pad, float* weight, float* bias) noexcept nogil:
    """``y (oc × oh·ow) = W (oc × c·k·k) · im2col(x) + b``; ``cols`` is kept for the backward pass."""
    cdef int oh = (h + 2 * pad - k) // stride + 1
    cdef int ow = (w + 2 * pad - k) // stride + 1
    cdef int p = oh * ow, ckk = c * k * k, o, j
    im2col(x, cols, c, h, w, k, stride, pad)
    for o in range(oc):
        for j in range(p):
            y[o * p + j] = bias[o]
    gemm_rm(False, False, oc, p, ckk, 1.0, weight, ckk, cols, p, 1.0, y, p)


cdef void conv2d_backward(float* dy, float* dx, float* cols, float* dcols, int c, int h, int w, int oc, int k,
                          int stride, int pad, float* weight, float* dweight, float* dbias) noexcept nogil:
    cdef int oh = (h + 2 * pad - k) // stride + 1
    cdef int ow = (w + 2 * pad - k) // stride + 1
    cdef int p = oh * ow, ckk = c * k * k, o, j
    for o in range(oc):
        for j in range(p):
            dbias[o] += dy[o * p + j]
    gemm_rm(False, True, oc, ckk, p, 1.0, dy, p, cols, p, 1.0, dweight, ckk)
    if dx != NULL:
        gemm_rm(True, False, ckk, p, oc, 1.0, weight, ckk, dy, p, 0.0, dcols, p)
        col2im(dcols, dx, c, h, w, k, stride, pad)


cdef void maxpool2d_forward(float* x, float* y, int c, int h, int w, int k) noexcept nogil:
    """Max over non-overlapping k×k windows (stride k, floor)."""
    cdef int oh = h // k, ow = w // k, ch, oy, ox, i, j
    cdef float best, v
    for ch in range(c):
        for oy in range(oh):
            for ox in range(ow):
                best = x[(ch * h + oy * k) * w + ox * k]
                for i in range(k):
                    for j in range(k):
                        v = x[(ch * h + oy * k + i) * w + ox * k + j]
                        best = v if v > best else best
                y[(ch * oh + oy) * ow + ox] = best


cdef void maxpool2d_backward(float* x, float* y, float* dy, float* dx, int c, int h, int w, int k) noexcept nogil:
    """Route each output gradient to the first input equal to its window's max."""
    cdef int oh = h // k, ow = w // k, ch, oy, ox, i, j, found
    cdef Py_ssize_t at
    memset(dx, 0, c * h * w * sizeof(float))
    for ch in range(c):
        for oy in range(oh):
            for ox in range(ow):
                found = 0
                for i in range(k):
                    for j in range(k):
                        at = (ch * h + oy * k + i) * w + ox * k + j
                        if not found and x[at] == y[(ch * oh + oy) * ow + ox]:
                            dx[at] = dy[(ch * oh + oy) * ow + ox]
                            found = 1


# -- dropout ---------------------------------------------------------------------------

cdef void dropout_forward(float* x, float* y, float* mask, Py_ssize_t n, float rate, uint64_t* state) noexcept nogil:
    """Inverted dropout; the mask (0 or 1/(1-rate)) comes from xorshift64* seeded by the model."""
    cdef Py_ssize_t i
    cdef uint64_t s = state[0]
    cdef float keep = 1.0 / (1.0 - rate), u
    for i in range(n):
        s ^= s >> 12
        s ^= s << 25
        s ^= s >> 27
        u = <float>((s * <uint64_t>2685821657736338717ULL) >> 40) * <float>(1.0 / 16777216.0)
        mask[i] = 0.0 if u < rate else keep
        y[i] = x[i] * mask[i]
    state[0] = s
