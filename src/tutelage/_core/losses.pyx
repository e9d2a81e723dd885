# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Loss kernels: each returns the mean loss and writes the gradient w.r.t. the predictions.

Inputs are validated by :mod:`tutelage.nn.losses`; here they are C-contiguous
float32 (labels int64) of the stated sizes. Sums run in double.
"""
from libc.math cimport exp, expf, log1p, logf

import numpy as np

cimport numpy as cnp
from libc.stdint cimport int64_t

from tutelage._core.arrays cimport f32_data

cnp.import_array()

cdef double HALF_LOG_2PI = 0.91893853320467274


cdef void log_softmax_row(float* z, float* out, Py_ssize_t k, float inv_t) noexcept nogil:
    """``out = log softmax(z / T)`` for one row."""
    cdef Py_ssize_t j
    cdef float top = z[0] * inv_t, total = 0.0
    for j in range(1, k):
        top = z[j] * inv_t if z[j] * inv_t > top else top
    for j in range(k):
        total += expf(z[j] * inv_t - top)
    total = top + logf(total)
    for j in range(k):
        out[j] = z[j] * inv_t - total


def mse(pred, target, dpred):
    """Mean over all elements of ``(pred - target)²``."""
    cdef Py_ssize_t i, n = pred.size
    cdef float* p = f32_data(pred, n, "pred")
    cdef float* t = f32_data(target, n, "target")
    cdef float* d = f32_data(dpred, n, "dpred")
    cdef double total = 0.0
    cdef float diff, scale = 2.0 / n
    with nogil:
        for i in range(n):
            diff = p[i] - t[i]
            total += diff * diff
            d[i] = scale * diff
    return total / n


def cross_entropy_labels(logits, labels, dlogits):
    """Mean softmax cross-entropy against integer labels (already range-checked)."""
    cdef Py_ssize_t rows = labels.shape[0], k = logits.size // max(labels.shape[0], 1), r, j
    cdef float* z = f32_data(logits, rows * k, "logits")
    cdef float* d = f32_data(dlogits, rows * k, "dlogits")
    cdef int64_t[::1] y = labels
    cdef double total = 0.0
    cdef float inv_rows = 1.0 / rows
    with nogil:
        for r in range(rows):
            log_softmax_row(z + r * k, d + r * k, k, 1.0)
            total -= d[r * k + y[r]]
            for j in range(k):
                d[r * k + j] = expf(d[r * k + j]) * inv_rows
            d[r * k + y[r]] -= inv_rows
    return total / rows


def cross_entropy_soft(logits, probs, dlogits, Py_ssize_t rows):
    """Mean softmax cross-entropy against target probabilities."""
    cdef Py_ssize_t k = logits.size // max(rows, 1), r, j
    cdef float* z = f32_data(logits, rows * k, "logits")
    cdef float* q = f32_data(probs, rows * k, "target")
    cdef float* d = f32_data(dlogits, rows * k, "dlogits")
    cdef double total = 0.0
    cdef float inv_rows = 1.0 / rows, mass
    with nogil:
        for r in range(rows):
            log_softmax_row(z + r * k, d + r * k, k, 1.0)
            mass = 0.0
            for j in range(k):
                total -= q[r * k + j] * d[r * k + j]
                mass += q[r * k + j]
            for j in range(k):
                d[r * k + j] = (expf(d[r * k + j]) * mass - q[r * k + j]) * inv_rows
    return total / rows


def distillation(student, teacher, labels, dstudent, Py_ssize_t rows, float temperature, float alpha):
    """``α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1-α)·CE(s, labels)``, averaged over rows."""
    cdef Py_ssize_t k = student.size // max(rows, 1), r, j
    cdef float* s = f32_data(student, rows * k, "student logits")
    cdef float* t = f32_data(teacher, rows * k, "teacher logits")
    cdef float* d = f32_data(dstudent, rows * k, "dstudent")
    cdef int64_t[::1] y = labels if labels is not None else None
    cdef bint hard = labels is not None and alpha < 1.0
    cdef float inv_t = 1.0 / temperature, pt, ps
    cdef float soft_scale = alpha * temperature / rows, hard_scale = (1.0 - alpha) / rows
    cdef double kl = 0.0, ce = 0.0
    rows_buffer = np.empty(2 * k, dtype=np.float32)  # one teacher row and one hard-label row
    cdef float* logp_t = <float*>cnp.PyArray_DATA(rows_buffer)
    cdef float* logp_h = logp_t + k
    with nogil:
        for r in range(rows):
            log_softmax_row(t + r * k, logp_t, k, inv_t)
            log_softmax_row(s + r * k, d + r * k, k, inv_t)
            for j in range(k):
                pt = expf(logp_t[j])
                kl += pt * (logp_t[j] - d[r * k + j])
                d[r * k + j] = soft_scale * (expf(d[r * k + j]) - pt)
            if hard:
                log_softmax_row(s + r * k, logp_h, k, 1.0)
                ce -= logp_h[y[r]]
                for j in range(k):
                    d[r * k + j] += hard_scale * expf(logp_h[j])
                d[r * k + y[r]] -= hard_scale
    return alpha * temperature * temperature * kl / rows + ((1.0 - alpha) * ce / rows if hard else 0.0)


def gaussian_nll(pred, target, dpred, Py_ssize_t rows):
    """Mean Gaussian negative log-likelihood; ``pred`` rows are ``[mean (k), log_std (k)]``."""
    cdef Py_ssize_t k = target.size // max(rows, 1), r, j
    cdef float* p = f32_data(pred, rows * 2 * k, "pred")
    cdef float* y = f32_data(target, rows * k, "target")
    cdef float* d = f32_data(dpred, rows * 2 * k, "dpred")
    cdef double total = 0.0
    cdef float z, inv_std, scale = 1.0 / (rows * k)
    with nogil:
        for r in range(rows):
            for j in range(k):
                inv_std = expf(-p[r * 2 * k + k + j])
                z = (y[r * k + j] - p[r * 2 * k + j]) * inv_std
                total += 0.5 * z * z + p[r * 2 * k + k + j] + HALF_LOG_2PI
                d[r * 2 * k + j] = -z * inv_std * scale
                d[r * 2 * k + k + j] = (1.0 - z * z) * scale
    return total / (rows * k)


def bradley_terry(chosen, rejected, dchosen, drejected):
    """Mean ``-log σ(r_chosen - r_rejected)`` over pairs."""
    cdef Py_ssize_t i, n = chosen.size
    cdef float* c = f32_data(chosen, n, "r_chosen")
    cdef float* rj = f32_data(rejected, n, "r_rejected")
    cdef float* dc = f32_data(dchosen, n, "d_chosen")
    cdef float* dr = f32_data(drejected, n, "d_rejected")
    cdef double total = 0.0, margin, p_wrong
    with nogil:
        for i in range(n):
            margin = <double>c[i] - rj[i]
            if margin > 0:
                total += log1p(exp(-margin))
                p_wrong = exp(-margin) / (1.0 + exp(-margin))
            else:
                total += -margin + log1p(exp(margin))
                p_wrong = 1.0 / (1.0 + exp(margin))
            dc[i] = <float>(-p_wrong / n)
            dr[i] = <float>(p_wrong / n)
    return total / n
