"""Cython kernels; Python code uses them through tutelage.nn."""
from tutelage._core.simd import simd_path

__all__ = ["simd_path"]
