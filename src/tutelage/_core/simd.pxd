"""The SIMD kernels of the table chosen at import (see simd.pyx); all ``noexcept nogil``."""
from libc.stdint cimport int8_t

cdef void matvec(const float* x, const float* w, float* y, Py_ssize_t n_in, Py_ssize_t n_out) noexcept nogil
cdef void tanh(const float* x, float* y, Py_ssize_t n) noexcept nogil
cdef void q8_dense(const int8_t* q, const float* x, const float* scale, const float* bias,
                   Py_ssize_t n_in, Py_ssize_t n_out, Py_ssize_t width, float* y) noexcept nogil
