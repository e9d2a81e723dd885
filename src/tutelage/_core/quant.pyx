# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""int8 inference: dense layers with int8 weights and per-output-channel scales.

A dense layer stores ``q`` (n_in × n_out, int8, the float weights' layout) and
``scale`` (n_out) with ``W[:, j] ≈ q[:, j] · scale[j]``; activations stay
float32 and the int8 weights are widened inside the product, so a layer reads
a quarter of the bytes of its float32 twin at the same arithmetic. Activations
reuse the core's kernels. The product runs from the SIMD table chosen at
import (``simd.pyx``: AVX2+FMA or NEON where the CPU has it, portable C
everywhere), so one wheel runs everywhere.
"""
import numpy as np

cimport numpy as cnp
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport int8_t
from libc.string cimport memcpy

from tutelage._core import simd as simd_paths
from tutelage._core.arrays cimport as_f32, dims_match, sample_dims
from tutelage._core.kernels cimport (
    gelu_forward, layer_norm_forward, log_softmax_forward, relu_forward, sigmoid_forward, softmax_forward,
    tanh_forward,
)
from tutelage._core.simd cimport q8_dense

cnp.import_array()

cdef extern from "simd_kernels.h":
    int Q8_BLOCK "TUTELAGE_Q8_BLOCK"


def use_kernel(str path="best"):
    """Choose the kernels: ``"avx2"`` (where the CPU has it), ``"c"`` (the portable baseline) or ``"best"``
    (the choice made at import); returns ``"avx2"`` or ``"c"``. This switches every SIMD kernel of the core
    (:func:`tutelage._core.simd.use_path`)."""
    if path not in ("best", "avx2", "c"):
        raise ValueError(f"kernel path must be 'best', 'avx2' or 'c', got {path!r}")
    if path == "best":
        simd_paths.use_path("auto")
    else:
        simd_paths.use_path("avx2" if path == "avx2" and "avx2" in simd_paths.available() else "baseline")
    return "avx2" if simd_paths.simd_path() == "avx2" else "c"


#: the product this process runs by default (``TUTELAGE_SIMD=baseline`` makes it ``"c"``)
KERNEL = "avx2" if simd_paths.DEFAULT == "avx2" else "c"


cdef enum QKind:
    Q_DENSE
    Q_RELU
    Q_TANH
    Q_SIGMOID
    Q_GELU
    Q_SOFTMAX
    Q_LOG_SOFTMAX
    Q_LAYER_NORM
    Q_IDENTITY

#: Op kinds by name; ``dropout`` and ``flatten`` are the identity at inference.
Q_KINDS = {
    "dense": Q_DENSE, "relu": Q_RELU, "tanh": Q_TANH, "sigmoid": Q_SIGMOID, "gelu": Q_GELU,
    "softmax": Q_SOFTMAX, "log_softmax": Q_LOG_SOFTMAX, "layer_norm": Q_LAYER_NORM,
    "dropout": Q_IDENTITY, "flatten": Q_IDENTITY,
}


cdef float* held_floats(list keep, object values, Py_ssize_t n, int i, str name) except NULL:
    """The data of ``values`` as ``n`` contiguous float32, kept alive in ``keep``."""
    cdef cnp.ndarray arr = np.ascontiguousarray(values, dtype=np.float32).ravel()
    if arr.size != n:
        raise ValueError(f"op {i}: {name} has {arr.size} values, expected {n}")
    keep.append(arr)
    return <float*>cnp.PyArray_DATA(arr)


cdef class QuantizedNetwork:
    """Runs a table of int8 dense layers and float32 activations; ``net(x)`` for one sample or a batch."""

    def __cinit__(self, *args, **kwargs):
        self.ops = NULL
        self.buf = self.stats = self.scaled = NULL

    def __dealloc__(self):
        PyMem_Free(self.ops)
        PyMem_Free(self.buf)
        PyMem_Free(self.stats)
        PyMem_Free(self.scaled)

    def __init__(self, list ops, tuple input_shape, tuple output_shape):
        """``ops``: dicts with ``kind`` and, for dense, ``q`` (n_in × n_out int8), ``scale`` and ``bias``
        (and optionally ``in_scale``, n_in values the input is multiplied by first); for layer norm
        ``gamma``, ``beta``, ``eps`` and ``n`` (row length); for (log-)softmax ``n``."""
        cdef Py_ssize_t in_size = int(np.prod(input_shape, dtype=np.int64))
        cdef Py_ssize_t size = in_size, width = in_size, i
        cdef QOp* op
        self._keep = []
        self.n_ops = len(ops)
        self.ops = <QOp*>PyMem_Malloc(max(self.n_ops, 1) * sizeof(QOp))
        if self.ops == NULL:
            raise MemoryError()
        for i, spec in enumerate(ops):
            op = &self.ops[i]
            if spec["kind"] not in Q_KINDS:
                raise ValueError(f"op {i}: int8 inference does not support {spec['kind']!r}")
            op.kind = Q_KINDS[spec["kind"]]
            op.n_in = op.n_out = size
            op.rows = 1
            op.width = 0
            op.wq = NULL
            op.scale = op.bias = op.gamma = op.in_scale = NULL
            op.eps = 0
            if op.kind == Q_DENSE:
                q = np.asarray(spec["q"], dtype=np.int8)
                if q.ndim != 2 or q.shape[0] != size:
                    raise ValueError(f"op {i}: weights of shape {q.shape} do not take an input of {size}")
                op.n_out = q.shape[1]
                op.width = (op.n_out + Q8_BLOCK - 1) // Q8_BLOCK * Q8_BLOCK
                pad = ((0, 0), (0, op.width - op.n_out))
                q = np.ascontiguousarray(np.pad(q, pad))
                self._keep.append(q)
                op.wq = <int8_t*>cnp.PyArray_DATA(q)
                op.scale = held_floats(self._keep, np.pad(np.ravel(spec["scale"]), pad[1]), op.width, i, "scale")
                op.bias = held_floats(self._keep, np.pad(np.ravel(spec["bias"]), pad[1]), op.width, i, "bias")
                if spec.get("in_scale") is not None:
                    op.in_scale = held_floats(self._keep, spec["in_scale"], size, i, "in_scale")
            elif op.kind in (Q_SOFTMAX, Q_LOG_SOFTMAX, Q_LAYER_NORM):
                n = int(spec.get("n", size))
                if n <= 0 or size % n:
                    raise ValueError(f"op {i}: row length {n} does not divide {size}")
                op.rows = size // n
                op.n_in = op.n_out = n
                if op.kind == Q_LAYER_NORM:
                    op.gamma = held_floats(self._keep, spec["gamma"], n, i, "gamma")
                    op.bias = held_floats(self._keep, spec["beta"], n, i, "beta")
                    op.eps = float(spec.get("eps", 1e-5))
            size = op.n_out * op.rows
            width = max(width, size)
        if int(np.prod(output_shape, dtype=np.int64)) != size:
            raise ValueError(f"the ops produce {size} outputs, not {output_shape}")
        self.in_size, self.out_size, self.width = in_size, size, width
        self._in_ndim = sample_dims(input_shape, self._in_dims)
        self._out_ndim = sample_dims(output_shape, self._out_dims)
        self._in_shape = input_shape
        self.buf = <float*>PyMem_Malloc(2 * width * sizeof(float))
        self.stats = <float*>PyMem_Malloc(2 * width * sizeof(float))
        self.scaled = <float*>PyMem_Malloc(width * sizeof(float))
        if self.buf == NULL or self.stats == NULL or self.scaled == NULL:
            raise MemoryError()

    cdef void _run1(self, float* x, float* out) noexcept nogil:
        """One sample through every op; the result is written to ``out``."""
        cdef int i
        cdef QOp* op
        cdef float* cur = x
        cdef float* nxt
        cdef Py_ssize_t size = self.in_size, k
        for i in range(self.n_ops):
            op = &self.ops[i]
            nxt = out if i == self.n_ops - 1 else self.buf + (self.width if cur == self.buf else 0)
            if op.kind == Q_DENSE:
                if op.in_scale != NULL:  # per-input scales first (the row scales the weights were divided by)
                    for k in range(op.n_in):
                        self.scaled[k] = cur[k] * op.in_scale[k]
                    cur = self.scaled
                q8_dense(op.wq, cur, op.scale, op.bias, op.n_in, op.n_out, op.width, nxt)
            elif op.kind == Q_RELU:
                relu_forward(cur, nxt, size)
            elif op.kind == Q_TANH:
                tanh_forward(cur, nxt, size)
            elif op.kind == Q_SIGMOID:
                sigmoid_forward(cur, nxt, size)
            elif op.kind == Q_GELU:
                gelu_forward(cur, nxt, size)
            elif op.kind == Q_SOFTMAX:
                softmax_forward(cur, nxt, op.rows, op.n_in)
            elif op.kind == Q_LOG_SOFTMAX:
                log_softmax_forward(cur, nxt, op.rows, op.n_in)
            elif op.kind == Q_LAYER_NORM:
                layer_norm_forward(cur, nxt, op.rows, op.n_in, op.gamma, op.bias, op.eps, self.stats)
            else:
                memcpy(nxt, cur, size * sizeof(float))
            size = op.n_out * op.rows
            cur = nxt
        if self.n_ops == 0:
            memcpy(out, x, size * sizeof(float))

    def __call__(self, x):
        """One sample of ``input_shape`` gives one output; ``(N, *input_shape)`` gives ``(N, *output_shape)``."""
        cdef cnp.ndarray arr = as_f32(x)
        cdef cnp.ndarray out
        cdef int nd = cnp.PyArray_NDIM(arr)
        cdef Py_ssize_t n, r
        cdef float* xp
        cdef float* yp
        if nd == self._in_ndim and dims_match(arr, 0, self._in_ndim, self._in_dims + 1):
            out = cnp.PyArray_EMPTY(self._out_ndim, self._out_dims + 1, cnp.NPY_FLOAT32, 0)
            self._run1(<float*>cnp.PyArray_DATA(arr), <float*>cnp.PyArray_DATA(out))
            return out
        if nd != self._in_ndim + 1 or not dims_match(arr, 1, self._in_ndim, self._in_dims + 1):
            raise ValueError(
                f"expected input of shape (N, {', '.join(map(str, self._in_shape))}) or {self._in_shape}, "
                f"got {(<object>arr).shape}"
            )
        n = cnp.PyArray_DIMS(arr)[0]
        self._out_dims[0] = n
        out = cnp.PyArray_EMPTY(self._out_ndim + 1, self._out_dims, cnp.NPY_FLOAT32, 0)
        xp = <float*>cnp.PyArray_DATA(arr)
        yp = <float*>cnp.PyArray_DATA(out)
        with nogil:
            for r in range(n):
                self._run1(xp + r * self.in_size, yp + r * self.out_size)
        return out
