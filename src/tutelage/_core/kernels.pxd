"""Layer kernels on raw float32 pointers, row-major, all ``noexcept nogil``.

Sizes: ``rows`` is the number of rows (batch × positions), ``n`` a row length.
Backward kernels accumulate parameter gradients (``+=``) and overwrite ``dx``;
a NULL ``dx`` means the input gradient is not needed.
"""
from libc.stdint cimport uint64_t

cdef void gemm_rm(bint trans_a, bint trans_b, int m, int n, int k, float alpha, float* a, int lda,
                  float* b, int ldb, float beta, float* c, int ldc) noexcept nogil

cdef void dense_forward(float* x, Py_ssize_t rows, Py_ssize_t n_in, Py_ssize_t n_out,
                        float* w, float* b, float* y) noexcept nogil
cdef void dense_backward(float* x, float* dy, Py_ssize_t rows, Py_ssize_t n_in, Py_ssize_t n_out,
                         float* w, float* dw, float* db, float* dx) noexcept nogil

cdef void tanh_forward(float* x, float* y, Py_ssize_t n) noexcept nogil
cdef void tanh_backward(float* y, float* dy, float* dx, Py_ssize_t n) noexcept nogil
cdef void relu_forward(float* x, float* y, Py_ssize_t n) noexcept nogil
cdef void relu_backward(float* y, float* dy, float* dx, Py_ssize_t n) noexcept nogil
cdef void sigmoid_forward(float* x, float* y, Py_ssize_t n) noexcept nogil
cdef void sigmoid_backward(float* y, float* dy, float* dx, Py_ssize_t n) noexcept nogil
cdef void gelu_forward(float* x, float* y, Py_ssize_t n) noexcept nogil
cdef void gelu_backward(float* x, float* dy, float* dx, Py_ssize_t n) noexcept nogil

cdef void softmax_forward(float* x, float* y, Py_ssize_t rows, Py_ssize_t n) noexcept nogil
cdef void softmax_backward(float* y, float* dy, float* dx, Py_ssize_t rows, Py_ssize_t n) noexcept nogil
cdef void log_softmax_forward(float* x, float* y, Py_ssize_t rows, Py_ssize_t n) noexcept nogil
cdef void log_softmax_backward(float* y, float* dy, float* dx, Py_ssize_t rows, Py_ssize_t n) noexcept nogil

cdef void layer_norm_forward(float* x, float* y, Py_ssize_t rows, Py_ssize_t n, float* gamma, float* beta,
                             float eps, float* stats) noexcept nogil
cdef void layer_norm_backward(float* x, float* dy, float* dx, Py_ssize_t rows, Py_ssize_t n, float* gamma,
                              float* stats, float* dgamma, float* dbeta) noexcept nogil

cdef int embedding_forward(float* ids, float* y, Py_ssize_t rows, Py_ssize_t dim, Py_ssize_t vocab,
                           float* w) noexcept nogil
cdef void embedding_backward(float* ids, float* dy, Py_ssize_t rows, Py_ssize_t dim, float* dw) noexcept nogil

cdef void conv2d_forward(float* x, float* y, float* cols, int c, int h, int w, int oc, int k, int stride,
                         int pad, float* weight, float* bias) noexcept nogil
cdef void conv2d_backward(float* dy, float* dx, float* cols, float* dcols, int c, int h, int w, int oc, int k,
                          int stride, int pad, float* weight, float* dweight, float* dbias) noexcept nogil

cdef void maxpool2d_forward(float* x, float* y, int c, int h, int w, int k) noexcept nogil
cdef void maxpool2d_backward(float* x, float* y, float* dy, float* dx, int c, int h, int w, int k) noexcept nogil

cdef void dropout_forward(float* x, float* y, float* mask, Py_ssize_t n, float rate, uint64_t* state) noexcept nogil
cdef void multiply(float* a, float* b, float* out, Py_ssize_t n) noexcept nogil
