"""The executor: a table of ops over one θ vector, with preallocated workspaces."""
cimport numpy as cnp
from libc.stdint cimport uint64_t

cdef enum OpKind:
    OP_DENSE
    OP_RELU
    OP_TANH
    OP_SIGMOID
    OP_GELU
    OP_SOFTMAX
    OP_LOG_SOFTMAX
    OP_LAYER_NORM
    OP_EMBEDDING
    OP_CONV2D
    OP_MAXPOOL2D
    OP_DROPOUT
    OP_PYTHON      # a plugin layer: numpy forward/backward called with the GIL

cdef struct Op:
    int kind
    Py_ssize_t rows        # rows per sample (positions) for row-wise ops
    Py_ssize_t n_in        # row length in
    Py_ssize_t n_out       # row length out
    Py_ssize_t in_size     # elements per sample in
    Py_ssize_t out_size    # elements per sample out
    Py_ssize_t w           # offset of the weights in θ, or -1
    Py_ssize_t b           # offset of the bias in θ, or -1
    Py_ssize_t act         # offset of the output in the activation workspace (per-sample units)
    Py_ssize_t aux         # offset of the saved state (im2col columns, masks, statistics), per sample
    Py_ssize_t aux_len     # saved-state elements per sample
    int c, h, wd, k, stride, pad, oc
    float p                # dropout rate, or layer-norm epsilon

cdef class Network:
    cdef readonly cnp.ndarray theta
    cdef readonly cnp.ndarray grad
    cdef float* _theta
    cdef float* _grad
    cdef Op* ops
    cdef int n_ops
    cdef tuple _in_shape
    cdef int _in_ndim
    cdef Py_ssize_t in_size, out_size, act_size, aux_size, grad_size, scratch_size
    cdef cnp.npy_intp[8] _in_dims
    cdef cnp.npy_intp[8] _out_dims
    cdef int _out_ndim
    cdef float* single          # batch-1 activations + aux
    cdef float* acts            # batch activations (capacity × act_size)
    cdef float* auxs            # batch saved state (capacity × aux_size)
    cdef float* grads           # two ping-pong gradient buffers (capacity × grad_size each)
    cdef float* scratch         # per-sample scratch (conv column gradients)
    cdef float** outs           # outputs of the last batch forward, outs[0] is its input
    cdef Py_ssize_t capacity
    cdef Py_ssize_t last_n
    cdef bint last_training
    cdef object last_input
    cdef uint64_t rng_state
    cdef list _layers           # plugin layers of OP_PYTHON ops (op.k indexes it)
    cdef object _error          # what a plugin layer raised in the last pass

    cdef int _run(self, float* x, Py_ssize_t n, float* acts, float* auxs, Py_ssize_t stride,
                  bint training, float** outs) noexcept nogil
    cdef void _reserve(self, Py_ssize_t n) except *
    cdef void _backward(self, float* dy, Py_ssize_t n, float* dx) noexcept nogil
    cdef int _python_op(self, Op* op, float* x, float* y, float* dy, float* dx, Py_ssize_t n,
                        bint training) noexcept nogil
