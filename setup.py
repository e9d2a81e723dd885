"""Build only the Cython extensions; everything else lives in pyproject.toml."""
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

CORE = Path("src/tutelage/_core")

extensions = [
    Extension(
        f"tutelage._core.{pyx.stem}",
        [str(pyx)],
        include_dirs=[numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3", "-fno-math-errno", "-fno-trapping-math", "-ftree-vectorize"],
    )
    for pyx in sorted(CORE.glob("*.pyx"))
]

setup(ext_modules=cythonize(extensions, language_level=3))
