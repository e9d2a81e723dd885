"""Cheap checks that turn an ndarray into a raw pointer (no memoryview acquisition)."""
cimport numpy as cnp

cdef float* f32_data(object array, Py_ssize_t size, str name) except NULL
cdef cnp.ndarray as_f32(object array)
cdef bint dims_match(cnp.ndarray array, int first, int ndim, cnp.npy_intp* dims) noexcept
cdef int sample_dims(tuple shape, cnp.npy_intp* dims) except -1
