# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Optimizer updates over the flat θ and its gradient: one nogil loop each."""
from libc.math cimport sqrt, sqrtf

cimport numpy as cnp

from tutelage._core.arrays cimport f32_data

cnp.import_array()


def sgd_step(theta, grad, velocity, float lr, float momentum, float weight_decay):
    """``v = μ·v + (g + λ·θ)``; ``θ -= lr·v`` (PyTorch's convention; ``velocity`` unused when μ = 0)."""
    cdef Py_ssize_t i, n = theta.size
    cdef float* th = f32_data(theta, n, "theta")
    cdef float* g = f32_data(grad, n, "grad")
    cdef float* v = f32_data(velocity, n, "velocity")
    cdef float d
    with nogil:
        for i in range(n):
            d = g[i] + weight_decay * th[i]
            v[i] = momentum * v[i] + d
            th[i] -= lr * v[i]


def adam_step(theta, grad, m, v, float lr, float beta1, float beta2, float eps, float weight_decay,
              bint decoupled, long step):
    """One Adam (``decoupled=False``, L2 in the gradient) or AdamW (decoupled decay) step number ``step``."""
    cdef Py_ssize_t i, n = theta.size
    cdef float* th = f32_data(theta, n, "theta")
    cdef float* g = f32_data(grad, n, "grad")
    cdef float* mm = f32_data(m, n, "m")
    cdef float* vv = f32_data(v, n, "v")
    cdef float step_size = lr / (1.0 - beta1 ** step)
    cdef float inv_bc2 = 1.0 / sqrtf(1.0 - beta2 ** step)
    cdef float l2 = 0.0 if decoupled else weight_decay
    cdef float shrink = 1.0 - lr * weight_decay if decoupled else 1.0
    cdef float d
    with nogil:
        for i in range(n):
            d = g[i] + l2 * th[i]
            mm[i] = beta1 * mm[i] + (1.0 - beta1) * d
            vv[i] = beta2 * vv[i] + (1.0 - beta2) * d * d
            th[i] = th[i] * shrink - step_size * mm[i] / (sqrtf(vv[i]) * inv_bc2 + eps)


def global_norm(grad):
    """The Euclidean norm of the whole gradient (NaN or inf when any entry is)."""
    cdef Py_ssize_t i, n = grad.size
    cdef float* g = f32_data(grad, n, "grad")
    cdef double total = 0.0
    with nogil:
        for i in range(n):
            total += <double>g[i] * g[i]
    return sqrt(total)


def scale(grad, float factor):
    """``grad *= factor`` in place."""
    cdef Py_ssize_t i, n = grad.size
    cdef float* g = f32_data(grad, n, "grad")
    with nogil:
        for i in range(n):
            g[i] *= factor
