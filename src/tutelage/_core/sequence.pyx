# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Sequence kernels: causal multi-head self-attention, its KV-cache step, and sequence cross-entropy.

Also thin Python entry points to the dense, layer-norm and GELU kernels so that
:mod:`tutelage.nn.transformer` can run a GPT block (with residual paths) on the
same C code as the op-table executor. Inputs are validated by the callers in
:mod:`tutelage.nn.attention`; here they are C-contiguous float32 of the stated
sizes (checked by ``f32_data``). Backward kernels overwrite input gradients and
accumulate (``+=``) parameter gradients, like :mod:`tutelage._core.kernels`.

Attention layout: ``qkv`` is ``(batch, time, 3·d)`` with rows ``[q | k | v]``,
head ``h`` owning columns ``h·hd … (h+1)·hd`` of each part; the output is
``(batch, time, d)``; ``probs`` ``(batch, heads, time, time)`` keeps the
causal softmax for the backward pass.
"""
from libc.math cimport expf, log, sqrtf
from libc.string cimport memset

cimport numpy as cnp

from tutelage._core.arrays cimport f32_data
from tutelage._core.kernels cimport (
    dense_backward, dense_forward, embedding_backward, gemm_rm, layer_norm_backward, layer_norm_forward,
)

cnp.import_array()

cdef extern from *:
    """
    /* exp and the exact GELU in plain arithmetic (no libm calls), so that the
       compiler vectorizes the loops with the baseline instruction set. */
    static inline float tt_exp(float x) {
        union { float f; int i; } u;
        float n, r, p;
        x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
        n = (float)(int)(x * 1.44269504f + (x >= 0.0f ? 0.5f : -0.5f));
        r = x - n * 0.693359375f + n * 2.12194440e-4f;
        p = 1.9875691500e-4f;
        p = p * r + 1.3981999507e-3f;
        p = p * r + 8.3334519073e-3f;
        p = p * r + 4.1665795894e-2f;
        p = p * r + 1.6666665459e-1f;
        p = p * r + 5.0000001201e-1f;
        p = p * r * r + r + 1.0f;
        u.i = ((int)n + 127) << 23;
        return p * u.f;
    }
    /* y = x·Φ(x) and dy/dx = Φ(x) + x·φ(x); erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7). */
    static void tt_gelu(const float* x, float* y, float* dy, Py_ssize_t n) {
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
    """
    float tt_exp(float x) noexcept nogil
    void tt_gelu(const float* x, float* y, float* dy, Py_ssize_t n) noexcept nogil


cdef inline void softmax_inplace(float* row, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t j
    cdef float top = row[0], total = 0.0
    for j in range(1, n):
        top = row[j] if row[j] > top else top
    for j in range(n):
        row[j] = tt_exp(row[j] - top)
        total += row[j]
    total = 1.0 / total
    for j in range(n):
        row[j] *= total


cdef inline void causal_softmax_rows(float* s, Py_ssize_t t) noexcept nogil:
    """Row ``i`` of the ``t×t`` scores: softmax over ``j ≤ i``, zero above the diagonal."""
    cdef Py_ssize_t i, j
    for i in range(t):
        softmax_inplace(s + i * t, i + 1)
        for j in range(i + 1, t):
            s[i * t + j] = 0.0


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
    with nogil:
        for b in range(batch):
            base = x + b * time * 3 * d
            for h in range(heads):
                s = p + (b * heads + h) * time * time
                gemm_rm(False, True, t, t, k, scale, base + h * hd, ld3, base + d + h * hd, ld3, 0.0, s, t)
                causal_softmax_rows(s, time)
                gemm_rm(False, False, t, k, t, 1.0, s, t, base + 2 * d + h * hd, ld3, 0.0,
                        y + b * time * d + h * hd, ld)


def causal_attention_backward(qkv, probs, dout, dqkv, scratch, Py_ssize_t batch, Py_ssize_t time,
                              Py_ssize_t heads):
    """``dqkv`` from ``dout`` through the saved ``probs``; ``scratch`` holds ``time×time`` floats."""
    cdef Py_ssize_t d = qkv.size // max(batch * time * 3, 1), hd = d // heads, b, h, i, j
    cdef float* x = f32_data(qkv, batch * time * 3 * d, "qkv")
    cdef float* p = f32_data(probs, batch * heads * time * time, "probs")
    cdef float* dy = f32_data(dout, batch * time * d, "dout")
    cdef float* dx = f32_data(dqkv, batch * time * 3 * d, "dqkv")
    cdef float* ds = f32_data(scratch, time * time, "scratch")
    cdef float scale = 1.0 / sqrtf(<float>hd), dot
    cdef float* base
    cdef float* dbase
    cdef float* s
    cdef float* dyb
    cdef int t = <int>time, k = <int>hd, ld3 = <int>(3 * d), ld = <int>d
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
                # dS = P ⊙ (dP − Σ_j P·dP), scaled; zero above the diagonal since P is
                for i in range(time):
                    dot = 0.0
                    for j in range(i + 1):
                        dot += s[i * time + j] * ds[i * time + j]
                    for j in range(i + 1):
                        ds[i * time + j] = scale * s[i * time + j] * (ds[i * time + j] - dot)
                    for j in range(i + 1, time):
                        ds[i * time + j] = 0.0
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
    cdef Py_ssize_t r, j, target, bad = -1
    cdef double total = 0.0, norm
    cdef float top, inv_rows = 1.0 / rows
    cdef float* row
    cdef float* grow
    with nogil:
        for r in range(rows):
            target = <Py_ssize_t>t[r]
            if target < 0 or target >= vocab or <float>target != t[r]:
                bad = r
                break
            row = l + r * vocab
            grow = g + r * vocab
            top = row[0]
            for j in range(1, vocab):
                top = row[j] if row[j] > top else top
            norm = 0.0
            for j in range(vocab):
                grow[j] = expf(row[j] - top)
                norm += grow[j]
            for j in range(vocab):
                grow[j] = <float>(grow[j] / norm) * inv_rows
            grow[target] -= inv_rows
            norm = log(norm) + top - row[target]
            total += norm
            if each != NULL:
                each[r] = <float>norm
    if bad >= 0:
        return -1.0 - bad
    return total / rows


def soft_cross_entropy(logits, probs, dlogits, Py_ssize_t rows, Py_ssize_t vocab, float temperature):
    """Mean over rows of ``−Σ p·log softmax(logits/T)`` (token distillation); gradient w.r.t. ``logits`` × T²."""
    cdef float* l = f32_data(logits, rows * vocab, "logits")
    cdef float* q = f32_data(probs, rows * vocab, "probs")
    cdef float* g = f32_data(dlogits, rows * vocab, "dlogits")
    cdef Py_ssize_t r, j
    cdef double total = 0.0, norm, mass
    cdef float top, inv_t = 1.0 / temperature, factor = temperature / rows
    cdef float* row
    cdef float* grow
    with nogil:
        for r in range(rows):
            row = l + r * vocab
            grow = g + r * vocab
            top = row[0]
            for j in range(1, vocab):
                top = row[j] if row[j] > top else top
            norm = 0.0
            mass = 0.0
            for j in range(vocab):
                grow[j] = expf((row[j] - top) * inv_t)
                norm += grow[j]
                mass += q[r * vocab + j]
            for j in range(vocab):
                total -= q[r * vocab + j] * ((row[j] - top) * inv_t - log(norm))
                grow[j] = factor * (<float>(grow[j] / norm) * mass - q[r * vocab + j])
    return total / rows


# -- the existing kernels, callable from Python -----------------------------------

def dense(x, w, b, y, Py_ssize_t rows, Py_ssize_t n_in, Py_ssize_t n_out):
    """``y = x·W + b`` (W is n_in × n_out)."""
    cdef float* xp = f32_data(x, rows * n_in, "x")
    cdef float* wp = f32_data(w, n_in * n_out, "w")
    cdef float* bp = f32_data(b, n_out, "b")
    cdef float* yp = f32_data(y, rows * n_out, "y")
    with nogil:
        dense_forward(xp, rows, n_in, n_out, wp, bp, yp)


def dense_grad(x, dy, w, dw, db, dx, Py_ssize_t rows, Py_ssize_t n_in, Py_ssize_t n_out):
    """``dW += xᵀ·dy``, ``db += Σ dy``, ``dx = dy·Wᵀ`` (``dx`` may be None)."""
    cdef float* xp = f32_data(x, rows * n_in, "x")
    cdef float* dyp = f32_data(dy, rows * n_out, "dy")
    cdef float* wp = f32_data(w, n_in * n_out, "w")
    cdef float* dwp = f32_data(dw, n_in * n_out, "dw")
    cdef float* dbp = f32_data(db, n_out, "db")
    cdef float* dxp = f32_data(dx, rows * n_in, "dx") if dx is not None else NULL
    with nogil:
        dense_backward(xp, dyp, rows, n_in, n_out, wp, dwp, dbp, dxp)


def layer_norm(x, y, gamma, beta, stats, Py_ssize_t rows, Py_ssize_t n, float eps):
    """Row-wise layer norm; ``stats`` (2·rows) keeps mean and 1/std."""
    cdef float* xp = f32_data(x, rows * n, "x")
    cdef float* yp = f32_data(y, rows * n, "y")
    cdef float* gp = f32_data(gamma, n, "gamma")
    cdef float* bp = f32_data(beta, n, "beta")
    cdef float* sp = f32_data(stats, 2 * rows, "stats")
    with nogil:
        layer_norm_forward(xp, yp, rows, n, gp, bp, eps, sp)


def layer_norm_grad(x, dy, dx, gamma, stats, dgamma, dbeta, Py_ssize_t rows, Py_ssize_t n):
    """Layer-norm backward: overwrites ``dx``, accumulates ``dgamma``, ``dbeta``."""
    cdef float* xp = f32_data(x, rows * n, "x")
    cdef float* dyp = f32_data(dy, rows * n, "dy")
    cdef float* dxp = f32_data(dx, rows * n, "dx")
    cdef float* gp = f32_data(gamma, n, "gamma")
    cdef float* sp = f32_data(stats, 2 * rows, "stats")
    cdef float* dgp = f32_data(dgamma, n, "dgamma")
    cdef float* dbp = f32_data(dbeta, n, "dbeta")
    with nogil:
        layer_norm_backward(xp, dyp, dxp, rows, n, gp, sp, dgp, dbp)


def gelu(x, y, slope, Py_ssize_t n):
    """Exact (erf) GELU ``y``; ``slope`` receives dy/dx, all the backward pass needs."""
    cdef float* xp = f32_data(x, n, "x")
    cdef float* yp = f32_data(y, n, "y")
    cdef float* sp = f32_data(slope, n, "slope")
    with nogil:
        tt_gelu(xp, yp, sp, n)


def embedding_grad(ids, dy, dw, Py_ssize_t rows, Py_ssize_t dim):
    """``dw[ids[r]] += dy[r]`` for every row (ids as float32, checked by the caller)."""
    cdef float* ip = f32_data(ids, rows, "ids")
    cdef float* dyp = f32_data(dy, rows * dim, "dy")
    cdef float* dwp = f32_data(dw, dw.size, "dw")
    with nogil:
        embedding_backward(ip, dyp, rows, dim, dwp)
