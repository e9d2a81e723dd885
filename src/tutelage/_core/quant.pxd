"""The int8 executor: dense layers with int8 weights (per-output-channel scales)."""
cimport numpy as cnp
from libc.stdint cimport int8_t

cdef struct QOp:
    int kind
    Py_ssize_t rows        # rows per sample for row-wise ops (softmax, layer norm)
    Py_ssize_t n_in
    Py_ssize_t n_out
    Py_ssize_t width       # dense: n_out padded to a whole number of kernel blocks
    int8_t* wq             # dense: int8 weights (n_in × width), column j is output channel j
    float* scale           # dense: per-output-channel scale
    float* bias            # dense: bias; layer norm: beta
    float* gamma           # layer norm: gamma
    float* in_scale        # dense: per-input scales, applied before the int8 product (NULL: none)
    float eps

cdef class QuantizedNetwork:
    cdef QOp* ops
    cdef int n_ops
    cdef Py_ssize_t in_size, out_size, width
    cdef float* buf            # two ping-pong activation rows of ``width`` floats
    cdef float* stats          # layer-norm row statistics (unused at inference, but written)
    cdef float* scaled         # a dense layer's input times its per-input scales
    cdef tuple _in_shape
    cdef int _in_ndim, _out_ndim
    cdef cnp.npy_intp[8] _in_dims      # [N, *input_shape]
    cdef cnp.npy_intp[8] _out_dims     # [N, *output_shape]
    cdef list _keep            # arrays whose memory the ops point into

    cdef void _run1(self, float* x, float* out) noexcept nogil
