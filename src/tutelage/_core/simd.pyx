# cython: language_level=3
"""Which SIMD kernels the core runs, chosen once at import by a runtime CPU check.

x86-64 runs AVX2+FMA kernels where the CPU and OS support them, AArch64 NEON
kernels; every CPU can run the baseline (plain C). ``TUTELAGE_SIMD=baseline``
in the environment forces the baseline (``avx2`` or ``neon`` ask for that
table, ``auto`` or unset takes the best). :func:`simd_path` names the table in
use; :func:`use_path` switches it for the whole process.
"""
import os
import warnings

from libc.stddef cimport ptrdiff_t
from libc.stdint cimport int8_t

cdef extern from "simd_kernels.h":
    ctypedef struct tutelage_simd_kernels:
        const char* name
        void (*matvec)(const float* x, const float* w, float* y, ptrdiff_t n_in, ptrdiff_t n_out) noexcept nogil
        void (*tanh)(const float* x, float* y, ptrdiff_t n) noexcept nogil
        void (*q8_dense)(const int8_t* q, const float* x, const float* scale, const float* bias,
                         ptrdiff_t n_in, ptrdiff_t n_out, ptrdiff_t width, float* y) noexcept nogil
    int tutelage_simd_available(const tutelage_simd_kernels** out)

#: the environment variable that picks the kernels at import
ENV = "TUTELAGE_SIMD"

cdef const tutelage_simd_kernels* tables[4]
cdef int n_tables = tutelage_simd_available(tables)
cdef const tutelage_simd_kernels* active = tables[0]


cdef void matvec(const float* x, const float* w, float* y, Py_ssize_t n_in, Py_ssize_t n_out) noexcept nogil:
    """``y += x·W`` for one row ``x`` (n_in) and ``W`` (n_in × n_out) row-major."""
    active.matvec(x, w, y, n_in, n_out)


cdef void tanh(const float* x, float* y, Py_ssize_t n) noexcept nogil:
    active.tanh(x, y, n)


cdef void q8_dense(const int8_t* q, const float* x, const float* scale, const float* bias,
                   Py_ssize_t n_in, Py_ssize_t n_out, Py_ssize_t width, float* y) noexcept nogil:
    """``y = (x·q)·scale + bias`` with int8 ``q`` (n_in × width)."""
    active.q8_dense(q, x, scale, bias, n_in, n_out, width, y)


def available():
    """Names of the kernel tables this CPU can run, best first; the last is always ``"baseline"``."""
    return tuple(tables[i].name.decode() for i in range(n_tables))


def simd_path():
    """Name of the kernel table in use: ``"avx2"``, ``"neon"`` or ``"baseline"``."""
    return active.name.decode()


def use_path(str name="auto"):
    """Switch every kernel to table ``name`` (one of :func:`available`, or ``"auto"``: the import-time
    choice); returns the name now in use. Meant for tests and benchmarks."""
    global active
    if name == "auto":
        name = DEFAULT
    names = available()
    if name not in names:
        raise ValueError(f"SIMD path must be 'auto' or one of {', '.join(names)} on this CPU, got {name!r}")
    active = tables[names.index(name)]
    return simd_path()


def _from_environment():
    """The table ``TUTELAGE_SIMD`` asks for; a value this CPU cannot run warns and takes the best."""
    wanted = os.environ.get(ENV, "auto").strip().lower() or "auto"
    names = available()
    if wanted == "auto" or wanted in names:
        return names[0] if wanted == "auto" else wanted
    warnings.warn(f"{ENV}={wanted!r}: this CPU runs {', '.join(names)} or auto; using {names[0]}",
                  RuntimeWarning, stacklevel=2)
    return names[0]


#: the table chosen at import
DEFAULT = _from_environment()
use_path(DEFAULT)
