# cython: language_level=3, boundscheck=False, wraparound=False
"""Array checks for the hot paths: dtype, contiguity and size, then the data pointer."""
import numpy as np

cimport numpy as cnp

cnp.import_array()


cdef float* f32_data(object array, Py_ssize_t size, str name) except NULL:
    """The data pointer of a C-contiguous float32 array of ``size`` elements; ValueError otherwise."""
    if not cnp.PyArray_Check(array):
        raise TypeError(f"{name} must be a numpy array, not {type(array).__name__}")
    cdef cnp.ndarray arr = <cnp.ndarray>array
    if cnp.PyArray_TYPE(arr) != cnp.NPY_FLOAT32 or not cnp.PyArray_IS_C_CONTIGUOUS(arr):
        raise ValueError(f"{name} must be a C-contiguous float32 array (got {arr.dtype})")
    if cnp.PyArray_SIZE(arr) != size:
        raise ValueError(f"{name} has {cnp.PyArray_SIZE(arr)} elements, expected {size}")
    return <float*>cnp.PyArray_DATA(arr)


cdef cnp.ndarray as_f32(object array):
    """``array`` itself when it is C-contiguous float32, else a converted copy."""
    if cnp.PyArray_Check(array):
        if cnp.PyArray_TYPE(<cnp.ndarray>array) == cnp.NPY_FLOAT32 and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>array):
            return <cnp.ndarray>array
    return np.ascontiguousarray(array, dtype=np.float32)


cdef bint dims_match(cnp.ndarray array, int first, int ndim, cnp.npy_intp* dims) noexcept:
    """Whether ``array.shape[first:first + ndim]`` equals ``dims[0:ndim]``."""
    cdef int i
    cdef cnp.npy_intp* shape = cnp.PyArray_DIMS(array)
    for i in range(ndim):
        if shape[first + i] != dims[i]:
            return False
    return True


cdef int sample_dims(tuple shape, cnp.npy_intp* dims) except -1:
    """Write a sample's ``shape`` into ``dims[1:]`` (``dims[0]`` is left for the batch size); returns its ndim."""
    cdef int i, ndim = len(shape)
    if ndim > 7:
        raise ValueError("at most 7 dimensions per sample")
    for i in range(ndim):
        dims[i + 1] = shape[i]
    return ndim
