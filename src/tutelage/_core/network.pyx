# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The executor behind :class:`tutelage.nn.Model`.

The Python side compiles a model into a table of :c:type:`Op` records
(offsets into θ and into preallocated workspaces); a forward or backward pass
is then one call into C that walks the table. ``model(x)`` on one sample
checks dtype and shape, runs the table on a private batch-1 buffer and returns
a fresh array, with no Python per layer.
"""
import numpy as np

cimport numpy as cnp
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from libc.stdint cimport uint64_t
from libc.string cimport memcpy, memset

from tutelage._core.arrays cimport as_f32, dims_match, f32_data, sample_dims
from tutelage.errors import DataError
from tutelage._core.kernels cimport (
    conv2d_backward, conv2d_forward, dense_backward, dense_forward, dropout_forward, embedding_backward,
    embedding_forward, gelu_backward, gelu_forward, layer_norm_backward, layer_norm_forward,
    log_softmax_backward, log_softmax_forward, maxpool2d_backward, maxpool2d_forward, multiply,
    relu_backward, relu_forward, sigmoid_backward, sigmoid_forward, softmax_backward, softmax_forward,
    tanh_backward, tanh_forward,
)

cnp.import_array()

#: Op kinds by the name the Python layers use.
OP_KINDS = {
    "dense": OP_DENSE, "relu": OP_RELU, "tanh": OP_TANH, "sigmoid": OP_SIGMOID, "gelu": OP_GELU,
    "softmax": OP_SOFTMAX, "log_softmax": OP_LOG_SOFTMAX, "layer_norm": OP_LAYER_NORM,
    "embedding": OP_EMBEDDING, "conv2d": OP_CONV2D, "maxpool2d": OP_MAXPOOL2D, "dropout": OP_DROPOUT,
    "python": OP_PYTHON,
}


cdef object _view(float* data, Py_ssize_t size):
    """A flat float32 array over ``data`` (valid only during the call it is passed to)."""
    cdef cnp.npy_intp dim = size
    return cnp.PyArray_SimpleNewFromData(1, &dim, cnp.NPY_FLOAT32, data) if data != NULL else None


cdef class Network:
    """Runs a compiled op table over ``theta``; gradients accumulate into ``grad``."""

    def __cinit__(self, *args, **kwargs):
        self.ops = NULL
        self.n_ops = 0
        self.single = self.acts = self.auxs = self.grads = self.scratch = NULL
        self.outs = NULL
        self.capacity = 0
        self.last_n = -1

    def __dealloc__(self):
        PyMem_Free(self.ops)
        PyMem_Free(self.single)
        PyMem_Free(self.acts)
        PyMem_Free(self.auxs)
        PyMem_Free(self.grads)
        PyMem_Free(self.scratch)
        PyMem_Free(self.outs)

    def _compile(self, theta, grad, ops, tuple input_shape, tuple output_shape, uint64_t seed):
        """Install θ, its gradient and the op table (a list of dicts from the layers)."""
        cdef Py_ssize_t i, act = 0, aux = 0
        cdef Op* op
        self._in_ndim = sample_dims(input_shape, self._in_dims)
        self._out_ndim = sample_dims(output_shape, self._out_dims)
        f32_data(theta, theta.size, "theta")
        f32_data(grad, theta.size, "grad")
        self.theta, self.grad = theta, grad
        self._theta = <float*>cnp.PyArray_DATA(theta)
        self._grad = <float*>cnp.PyArray_DATA(grad)
        self._in_shape = input_shape
        self.in_size = int(np.prod(input_shape, dtype=np.int64))
        self.out_size = int(np.prod(output_shape, dtype=np.int64))
        self.n_ops = len(ops)
        self.ops = <Op*>PyMem_Realloc(self.ops, max(self.n_ops, 1) * sizeof(Op))
        self.outs = <float**>PyMem_Realloc(self.outs, (self.n_ops + 1) * sizeof(float*))
        if self.ops == NULL or self.outs == NULL:
            raise MemoryError()
        self.grad_size = self.in_size
        self.scratch_size = 1
        self._layers, self._error = [], None
        for i, spec in enumerate(ops):
            op = &self.ops[i]
            op.kind = OP_KINDS[spec["kind"]]
            op.rows = spec.get("rows", 1)
            op.in_size, op.out_size = spec["in_size"], spec["out_size"]
            op.n_in = spec.get("n_in", op.in_size)
            op.n_out = spec.get("n_out", op.out_size)
            op.w, op.b = spec.get("w", -1), spec.get("b", -1)
            op.c, op.h, op.wd = spec.get("c", 0), spec.get("h", 0), spec.get("wd", 0)
            op.k, op.stride, op.pad, op.oc = spec.get("k", 0), spec.get("stride", 1), spec.get("pad", 0), spec.get("oc", 0)
            op.p = spec.get("p", 0.0)
            op.aux_len = spec.get("aux_len", 0)
            if op.kind == OP_PYTHON:
                op.k = len(self._layers)
                self._layers.append(spec["layer"])
            op.act, op.aux = act, aux
            act += op.out_size
            aux += op.aux_len
            self.grad_size = max(self.grad_size, op.in_size)
            self.scratch_size = max(self.scratch_size, spec.get("scratch", 1))
        self.act_size, self.aux_size = max(act, 1), max(aux, 1)
        self.single = <float*>PyMem_Realloc(self.single, (self.act_size + self.aux_size) * sizeof(float))
        self.scratch = <float*>PyMem_Realloc(self.scratch, self.scratch_size * sizeof(float))
        if self.single == NULL or self.scratch == NULL:
            raise MemoryError()
        self.capacity = 0
        self.last_n = -1
        self.last_input = None
        self.reseed(seed)

    def reseed(self, uint64_t seed):
        """Restart the dropout random stream from ``seed``."""
        self.rng_state = seed * <uint64_t>0x9E3779B97F4A7C15ULL + <uint64_t>0x2545F4914F6CDD1DULL
        if self.rng_state == 0:
            self.rng_state = 1

    cdef void _reserve(self, Py_ssize_t n) except *:
        if n <= self.capacity:
            return
        PyMem_Free(self.acts)
        PyMem_Free(self.auxs)
        PyMem_Free(self.grads)
        self.acts = <float*>PyMem_Malloc(n * self.act_size * sizeof(float))
        self.auxs = <float*>PyMem_Malloc(n * self.aux_size * sizeof(float))
        self.grads = <float*>PyMem_Malloc(2 * n * self.grad_size * sizeof(float))
        if self.acts == NULL or self.auxs == NULL or self.grads == NULL:
            self.capacity = 0
            raise MemoryError()
        self.capacity = n

    cdef int _run(self, float* x, Py_ssize_t n, float* acts, float* auxs, Py_ssize_t stride,
                  bint training, float** outs) noexcept nogil:
        """Forward ``n`` samples; returns -1, -2 when a plugin layer raised, or the flat position of an invalid
        embedding id."""
        cdef int i, bad
        cdef Py_ssize_t s
        cdef Op* op
        cdef float* cur = x
        cdef float* y
        cdef float* aux
        cdef float* th = self._theta
        if outs != NULL:
            outs[0] = x
        for i in range(self.n_ops):
            op = &self.ops[i]
            y = acts + stride * op.act
            aux = auxs + stride * op.aux
            if op.kind == OP_DENSE:
                dense_forward(cur, n * op.rows, op.n_in, op.n_out, th + op.w, th + op.b, y)
            elif op.kind == OP_TANH:
                tanh_forward(cur, y, n * op.in_size)
            elif op.kind == OP_RELU:
                relu_forward(cur, y, n * op.in_size)
            elif op.kind == OP_SIGMOID:
                sigmoid_forward(cur, y, n * op.in_size)
            elif op.kind == OP_GELU:
                gelu_forward(cur, y, n * op.in_size)
            elif op.kind == OP_SOFTMAX:
                softmax_forward(cur, y, n * op.rows, op.n_in)
            elif op.kind == OP_LOG_SOFTMAX:
                log_softmax_forward(cur, y, n * op.rows, op.n_in)
            elif op.kind == OP_LAYER_NORM:
                layer_norm_forward(cur, y, n * op.rows, op.n_in, th + op.w, th + op.b, op.p, aux)
            elif op.kind == OP_EMBEDDING:
                bad = embedding_forward(cur, y, n * op.rows, op.n_out, op.n_in, th + op.w)
                if bad >= 0:
                    return bad
            elif op.kind == OP_CONV2D:
                for s in range(n):
                    conv2d_forward(cur + s * op.in_size, y + s * op.out_size, aux + s * op.aux_len, op.c, op.h,
                                   op.wd, op.oc, op.k, op.stride, op.pad, th + op.w, th + op.b)
            elif op.kind == OP_MAXPOOL2D:
                for s in range(n):
                    maxpool2d_forward(cur + s * op.in_size, y + s * op.out_size, op.c, op.h, op.wd, op.k)
            elif op.kind == OP_DROPOUT:
                if training:
                    dropout_forward(cur, y, aux, n * op.in_size, op.p, &self.rng_state)
                else:
                    y = cur
            elif op.kind == OP_PYTHON:
                if self._python_op(op, cur, y, NULL, NULL, n, training):
                    return -2
            if outs != NULL:
                outs[i + 1] = y
            cur = y
        if outs == NULL:  # batch-1 path: leave the result at the start of the buffer
            if cur != acts:
                memcpy(acts, cur, n * self.out_size * sizeof(float))
        return -1

    cdef void _backward(self, float* dy, Py_ssize_t n, float* dx) noexcept nogil:
        cdef int i
        cdef Py_ssize_t s
        cdef Op* op
        cdef float* dout = dy
        cdef float* din
        cdef float* x
        cdef float* aux
        cdef float* th = self._theta
        cdef float* g = self._grad
        for i in range(self.n_ops - 1, -1, -1):
            op = &self.ops[i]
            x = self.outs[i]
            aux = self.auxs + self.capacity * op.aux
            din = dx if i == 0 else self.grads + (i & 1) * self.capacity * self.grad_size
            if op.kind == OP_DENSE:
                dense_backward(x, dout, n * op.rows, op.n_in, op.n_out, th + op.w, g + op.w, g + op.b, din)
            elif op.kind == OP_LAYER_NORM:
                layer_norm_backward(x, dout, din, n * op.rows, op.n_in, th + op.w, aux, g + op.w, g + op.b)
            elif op.kind == OP_EMBEDDING:
                embedding_backward(x, dout, n * op.rows, op.n_out, g + op.w)
                if din != NULL:
                    memset(din, 0, n * op.in_size * sizeof(float))
            elif op.kind == OP_CONV2D:
                for s in range(n):
                    conv2d_backward(dout + s * op.out_size, din + s * op.in_size if din != NULL else NULL,
                                    aux + s * op.aux_len, self.scratch, op.c, op.h, op.wd, op.oc, op.k,
                                    op.stride, op.pad, th + op.w, g + op.w, g + op.b)
            elif op.kind == OP_PYTHON:
                if self._python_op(op, x, self.outs[i + 1], dout, din, n, False):
                    return
            elif din == NULL:
                pass
            elif op.kind == OP_TANH:
                tanh_backward(self.outs[i + 1], dout, din, n * op.in_size)
            elif op.kind == OP_RELU:
                relu_backward(self.outs[i + 1], dout, din, n * op.in_size)
            elif op.kind == OP_SIGMOID:
                sigmoid_backward(self.outs[i + 1], dout, din, n * op.in_size)
            elif op.kind == OP_GELU:
                gelu_backward(x, dout, din, n * op.in_size)
            elif op.kind == OP_SOFTMAX:
                softmax_backward(self.outs[i + 1], dout, din, n * op.rows, op.n_in)
            elif op.kind == OP_LOG_SOFTMAX:
                log_softmax_backward(self.outs[i + 1], dout, din, n * op.rows, op.n_in)
            elif op.kind == OP_MAXPOOL2D:
                for s in range(n):
                    maxpool2d_backward(x + s * op.in_size, self.outs[i + 1] + s * op.out_size,
                                       dout + s * op.out_size, din + s * op.in_size, op.c, op.h, op.wd, op.k)
            elif op.kind == OP_DROPOUT:
                if self.last_training:
                    multiply(dout, aux, din, n * op.in_size)
                else:
                    memcpy(din, dout, n * op.in_size * sizeof(float))
            dout = din

    cdef int _python_op(self, Op* op, float* x, float* y, float* dy, float* dx, Py_ssize_t n,
                        bint training) noexcept nogil:
        """Forward (``dy`` NULL) or backward through a plugin layer; 1 when it raised (kept in ``_error``)."""
        with gil:
            layer = self._layers[op.k]
            try:
                if dy == NULL:
                    layer.run_forward(_view(x, n * op.in_size), _view(y, n * op.out_size), n, training)
                else:
                    layer.run_backward(_view(x, n * op.in_size), _view(y, n * op.out_size),
                                       _view(dy, n * op.out_size), _view(dx, n * op.in_size), n)
            except BaseException as exc:
                self._error = exc
                return 1
            return 0

    def _raise_error(self):
        error, self._error = self._error, None
        raise error

    def _bad_id(self, int position):
        if position == -2:
            self._raise_error()
        raise DataError(f"embedding input at flat position {position} is not an integer id in range")

    def __call__(self, x):
        """Run the model: one sample of ``input_shape`` gives one output; a batch gives a batch."""
        cdef cnp.ndarray arr = as_f32(x)
        cdef int nd = cnp.PyArray_NDIM(arr)
        cdef int bad
        cdef cnp.ndarray out
        if nd == self._in_ndim and dims_match(arr, 0, self._in_ndim, self._in_dims + 1):
            bad = self._run(<float*>cnp.PyArray_DATA(arr), 1, self.single, self.single + self.act_size, 1,
                            False, NULL)
            if bad != -1:
                self._bad_id(bad)
            out = cnp.PyArray_EMPTY(self._out_ndim, self._out_dims + 1, cnp.NPY_FLOAT32, 0)
            memcpy(cnp.PyArray_DATA(out), self.single, self.out_size * sizeof(float))
            return out
        return self.forward(arr)

    def forward(self, X, bint training=False):
        """Forward a batch ``(N, *input_shape)``; keeps what :meth:`backward` needs."""
        cdef cnp.ndarray arr = as_f32(X)
        if cnp.PyArray_NDIM(arr) != self._in_ndim + 1 or not dims_match(arr, 1, self._in_ndim, self._in_dims + 1):
            raise ValueError(
                f"expected input of shape (N, {', '.join(map(str, self._in_shape))}) or {self._in_shape}, "
                f"got {(<object>arr).shape}"
            )
        cdef Py_ssize_t n = cnp.PyArray_DIMS(arr)[0]
        cdef int bad = -1
        cdef float* data = <float*>cnp.PyArray_DATA(arr)
        self._out_dims[0] = n
        cdef cnp.ndarray out = cnp.PyArray_EMPTY(self._out_ndim + 1, self._out_dims, cnp.NPY_FLOAT32, 0)
        self._reserve(max(n, 1))
        if n > 0:
            with nogil:
                bad = self._run(data, n, self.acts, self.auxs, self.capacity, training, self.outs)
            if bad != -1:
                self.last_n = -1
                self._bad_id(bad)
            memcpy(cnp.PyArray_DATA(out), self.outs[self.n_ops], n * self.out_size * sizeof(float))
        self.last_n, self.last_training, self.last_input = n, training, arr
        return out

    def backward(self, dY, bint input_grad=True):
        """Backpropagate ``dY`` through the last :meth:`forward`; accumulates into ``grad``, returns dX."""
        if self.last_n < 0:
            raise RuntimeError("backward() needs a forward() on a batch first")
        cdef Py_ssize_t n = self.last_n
        cdef cnp.ndarray dy = as_f32(dY)
        cdef float* dyp = f32_data(dy, n * self.out_size, "dY")
        cdef cnp.ndarray dx = None
        cdef float* dxp = NULL
        if input_grad:
            self._in_dims[0] = n
            dx = cnp.PyArray_EMPTY(self._in_ndim + 1, self._in_dims, cnp.NPY_FLOAT32, 0)
            dxp = <float*>cnp.PyArray_DATA(dx)
        if n > 0:
            with nogil:
                self._backward(dyp, n, dxp)
            if self._error is not None:
                self._raise_error()
        return dx

    def zero_grad(self):
        """Set every gradient to zero."""
        memset(self._grad, 0, cnp.PyArray_SIZE(self.grad) * sizeof(float))
