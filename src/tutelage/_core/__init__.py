"""Cython kernels; Python code uses them through tutelage.nn."""
