# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Kernels for generative models: the VAE's Gaussian latent, a Bernoulli NLL and a mixture-density NLL.

Inputs are validated by :mod:`tutelage.nn.losses`; here they are C-contiguous
float32 of the stated sizes. Losses sum over the features of a row and
average over rows; ``per_row`` (float64 of ``rows``, or None) receives each
row's value. Sums run in double.
"""
from libc.math cimport exp, expf, fabsf, log, logf

import numpy as np

cimport numpy as cnp

from tutelage._core.arrays cimport f32_data

cnp.import_array()

cdef double HALF_LOG_2PI = 0.91893853320467274


cdef double* f64_out(object per_row, Py_ssize_t rows) except? NULL:
    if per_row is None:
        return NULL
    if per_row.dtype != np.float64 or per_row.size != rows or not per_row.flags.c_contiguous:
        raise ValueError(f"per_row must be a C-contiguous float64 array of {rows} elements")
    return <double*>cnp.PyArray_DATA(per_row)


def reparameterize(stats, eps, z, Py_ssize_t rows):
    """``z = mean + exp(½·log_var)·eps``; ``stats`` rows are ``[mean (k), log_var (k)]``."""
    cdef Py_ssize_t k = eps.size // max(rows, 1), r, j
    cdef float* s = f32_data(stats, rows * 2 * k, "stats")
    cdef float* e = f32_data(eps, rows * k, "eps")
    cdef float* out = f32_data(z, rows * k, "z")
    with nogil:
        for r in range(rows):
            for j in range(k):
                out[r * k + j] = s[r * 2 * k + j] + expf(0.5 * s[r * 2 * k + k + j]) * e[r * k + j]


def gaussian_latent_backward(stats, eps, dz, dstats, Py_ssize_t rows, float beta, per_row=None):
    """Mean over rows of ``KL(N(mean, var) ‖ N(0, I))``; ``dstats`` = β·∂KL + the reparameterization's chain of ``dz``.

    ``dz`` (the loss gradient w.r.t. ``z``, or None) flows back to the mean and
    to the log-variance through ``z = mean + exp(½·log_var)·eps``.
    """
    cdef Py_ssize_t k = eps.size // max(rows, 1), r, j, m, v
    cdef float* s = f32_data(stats, rows * 2 * k, "stats")
    cdef float* e = f32_data(eps, rows * k, "eps")
    cdef float* g = f32_data(dz, rows * k, "dz") if dz is not None else NULL
    cdef float* d = f32_data(dstats, rows * 2 * k, "dstats")
    cdef double* each = f64_out(per_row, rows)
    cdef double total = 0.0, row
    cdef float var, scale = beta / rows
    with nogil:
        for r in range(rows):
            row = 0.0
            for j in range(k):
                m, v = r * 2 * k + j, r * 2 * k + k + j
                var = expf(s[v])
                row += 0.5 * (<double>s[m] * s[m] + var - 1.0 - s[v])
                d[m] = scale * s[m]
                d[v] = scale * 0.5 * (var - 1.0)
                if g != NULL:
                    d[m] += g[r * k + j]
                    d[v] += g[r * k + j] * e[r * k + j] * 0.5 * expf(0.5 * s[v])
            total += row
            if each != NULL:
                each[r] = row
    return total / rows


def bernoulli_nll(logits, target, dlogits, Py_ssize_t rows, per_row=None):
    """``Σ_features softplus(l) − t·l`` (Bernoulli NLL with logits, targets in [0, 1]), mean over rows."""
    cdef Py_ssize_t k = target.size // max(rows, 1), r, j, i
    cdef float* l = f32_data(logits, rows * k, "logits")
    cdef float* t = f32_data(target, rows * k, "target")
    cdef float* d = f32_data(dlogits, rows * k, "dlogits")
    cdef double* each = f64_out(per_row, rows)
    cdef double total = 0.0, row
    cdef float inv_rows = 1.0 / rows, x, e
    with nogil:
        for r in range(rows):
            row = 0.0
            for j in range(k):
                i = r * k + j
                x = l[i]
                e = expf(-fabsf(x))  # softplus and sigmoid from one exponential
                row += (x if x > 0 else 0.0) + logf(1.0 + e) - t[i] * x
                d[i] = ((1.0 if x >= 0 else e) / (1.0 + e) - t[i]) * inv_rows
            total += row
            if each != NULL:
                each[r] = row
    return total / rows


def mixture_nll(pred, target, dpred, Py_ssize_t rows, Py_ssize_t components, per_row=None):
    """Mean ``−log Σ_c π_c N(y | μ_c, diag σ_c²)``; ``pred`` rows are ``[logits (K), μ (K·d), log σ (K·d)]``."""
    cdef Py_ssize_t d = target.size // max(rows, 1), K = components, width = K * (1 + 2 * d)
    cdef Py_ssize_t r, c, j, base, mu, ls
    cdef float* p = f32_data(pred, rows * width, "pred")
    cdef float* y = f32_data(target, rows * d, "target")
    cdef float* g = f32_data(dpred, rows * width, "dpred")
    cdef double* each = f64_out(per_row, rows)
    buffer = np.empty(2 * K, dtype=np.float64)
    cdef double* logpi = <double*>cnp.PyArray_DATA(buffer)
    cdef double* lc = logpi + K
    cdef double total = 0.0, top, norm, z, resp, inv_rows = 1.0 / rows
    with nogil:
        for r in range(rows):
            base = r * width
            top = p[base]
            for c in range(1, K):
                top = p[base + c] if p[base + c] > top else top
            norm = 0.0
            for c in range(K):
                norm += exp(p[base + c] - top)
            norm = top + log(norm)
            for c in range(K):
                logpi[c] = p[base + c] - norm
                lc[c] = logpi[c]
                for j in range(d):
                    mu, ls = base + K + c * d + j, base + K + K * d + c * d + j
                    z = (y[r * d + j] - p[mu]) * exp(-p[ls])
                    lc[c] -= 0.5 * z * z + p[ls] + HALF_LOG_2PI
            top = lc[0]
            for c in range(1, K):
                top = lc[c] if lc[c] > top else top
            norm = 0.0
            for c in range(K):
                norm += exp(lc[c] - top)
            norm = top + log(norm)
            total -= norm
            if each != NULL:
                each[r] = -norm
            for c in range(K):
                resp = exp(lc[c] - norm)
                g[base + c] = <float>((exp(logpi[c]) - resp) * inv_rows)
                for j in range(d):
                    mu, ls = base + K + c * d + j, base + K + K * d + c * d + j
                    z = (y[r * d + j] - p[mu]) * exp(-p[ls])
                    g[mu] = <float>(-resp * z * exp(-p[ls]) * inv_rows)
                    g[ls] = <float>(resp * (1.0 - z * z) * inv_rows)
    return total / rows
