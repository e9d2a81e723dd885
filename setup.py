"""Build only the Cython extensions; everything else lives in pyproject.toml.

No flag here may tie a build to the machine that made it (no -march=native):
the SIMD kernels carry their own per-function target attributes and are
chosen at import by a runtime CPU check (src/tutelage/_core/simd.pyx, csrc/).
tests/test_portability.py checks both.
"""
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

CORE = Path("src/tutelage/_core")
CSRC = CORE / "csrc"  # the SIMD kernels in plain C, one file per instruction set
SIMD_SOURCES = [str(CSRC / f"simd_{part}.c") for part in ("baseline", "avx2", "neon", "dispatch")]

# Optimization only, per compiler family; MSVC vectorizes at /O2 and needs no flag for intrinsics.
GCC_FLAGS = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-ftree-vectorize"]
FLAGS = {"unix": GCC_FLAGS, "mingw32": GCC_FLAGS, "msvc": ["/O2"]}


class BuildExt(build_ext):
    """Adds the optimization flags of the compiler in use."""

    def build_extensions(self):
        for ext in self.extensions:
            ext.extra_compile_args = FLAGS.get(self.compiler.compiler_type, [])
        super().build_extensions()


extensions = [
    Extension(
        f"tutelage._core.{pyx.stem}",
        [str(pyx), *(SIMD_SOURCES if pyx.stem == "simd" else [])],
        include_dirs=[numpy.get_include(), str(CSRC)],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        depends=[str(CSRC / "simd_kernels.h"), str(CSRC / "simd_float.h")],
    )
    for pyx in sorted(CORE.glob("*.pyx"))
]

setup(ext_modules=cythonize(extensions, language_level=3), cmdclass={"build_ext": BuildExt})
