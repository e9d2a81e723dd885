"""One wheel for every CPU and OS: no machine-specific flags, runtime SIMD choice, platform-safe Python."""
from __future__ import annotations

import ast
import os
import platform
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

import tutelage._core
from tutelage import fileio, nn, processes
from tutelage._core import simd
from tutelage.nn.quantize import quantize

ROOT = Path(__file__).resolve().parents[1]
CSRC = ROOT / "src" / "tutelage" / "_core" / "csrc"
CORE_DIR = Path(tutelage._core.__file__).parent  # the installed extensions (a wheel's, or the in-place build)
X86_64 = platform.machine().lower() in ("x86_64", "amd64")

# Flags that make a binary need the build machine's CPU (GCC/clang spellings and MSVC's /arch).
MACHINE_FLAGS = re.compile(r"-march=|-mtune=native|-mcpu=native|-mavx|-mfma|-msse[34]|-mf16c|-xHost|/arch:")


def source_file(relative: str) -> Path:
    path = ROOT / relative
    if not path.is_file():
        pytest.skip(f"{relative} is not here (tests run outside a source tree)")
    return path


def strings(node) -> list[str]:
    """Every string in a TOML value (tables and arrays walked)."""
    if isinstance(node, dict):
        return [text for value in node.values() for text in strings(value)]
    if isinstance(node, list):
        return [text for value in node for text in strings(value)]
    return [node] if isinstance(node, str) else []


def test_build_has_no_machine_specific_flags():
    """No flag in setup.py, nor any build setting in pyproject.toml, is a machine flag."""
    setup_strings = [node.value for node in ast.walk(ast.parse(source_file("setup.py").read_text()))
                     if isinstance(node, ast.Constant) and str(node.value).startswith(("-", "/"))]
    pyproject = tomllib.loads(source_file("pyproject.toml").read_text())
    build_strings = strings(pyproject["build-system"]) + strings(pyproject["tool"]["cibuildwheel"])
    assert any(text.startswith("-O") for text in setup_strings)  # the scan sees the flags
    for text in setup_strings + build_strings:
        assert not MACHINE_FLAGS.search(text), text
    for c_file in sorted(CSRC.glob("*.[ch]")):
        text = c_file.read_text()
        assert "#pragma GCC target" not in text and "target_clones" not in text, c_file.name


def test_no_bare_restrict_in_the_core():
    """MSVC's C compiler has no ``restrict``; the core spells it CYTHON_RESTRICT."""
    if not CSRC.is_dir():
        pytest.skip("the core's sources are not here (tests run outside a source tree)")
    for path in [*CSRC.parent.glob("*.pyx"), *CSRC.parent.glob("*.pxd"), *CSRC.glob("*.[ch]")]:
        code = re.sub(r"/\*.*?\*/", "", path.read_text(), flags=re.S)  # C comments
        for line in code.splitlines():
            if not line.lstrip().startswith("#"):  # preprocessor lines and Python comments
                assert not re.search(r"(?<!\w)restrict\b", line), f"{path.name}: {line.strip()}"


def avx_functions(library: Path) -> set[str]:
    """Functions of ``library`` whose disassembly uses a 256- or 512-bit register."""
    text = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(library)], capture_output=True, text=True,
                          check=True).stdout
    found, function = set(), None
    for line in text.splitlines():
        header = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
        if header:
            function = header.group(1)
        elif "%ymm" in line or "%zmm" in line:
            found.add(function)
    return found


@pytest.mark.skipif(not X86_64, reason="the AVX scan is for x86-64 builds")
@pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump (GNU binutils) is not installed")
def test_only_the_avx2_kernels_use_avx_registers():
    """Everything but the AVX2 table is baseline x86-64 code, so the wheel runs on any x86-64 CPU."""
    libraries = sorted(CORE_DIR.glob("*.so"))
    if not libraries:
        pytest.skip(f"no ELF extensions in {CORE_DIR} (objdump reads ELF)")
    seen = {lib.name: avx_functions(lib) for lib in libraries}
    outside = {name: sorted(f for f in funcs if "_avx2" not in f) for name, funcs in seen.items()}
    assert not any(outside.values()), f"AVX registers outside the AVX2 kernels: {outside}"
    simd_lib = next(name for name in seen if name.startswith("simd."))
    if not seen[simd_lib]:
        pytest.skip("the extensions are stripped: no function names to tell the AVX2 kernels apart")
    assert {"matvec_avx2", "tanh_avx2", "q8_dense_avx2"} <= {f.split(".")[0] for f in seen[simd_lib]}


@pytest.fixture(params=simd.available())
def simd_path(request):
    assert simd.use_path(request.param) == request.param
    yield request.param
    simd.use_path("auto")


def test_simd_paths_match_numpy(simd_path):
    """Batch-1 dense + tanh (the SIMD kernels) and the int8 product on each path this CPU can run."""
    rng = np.random.default_rng(0)
    for n_in, width, n_out in [(13, 40, 7), (16, 64, 2), (5, 9, 33), (1, 130, 3)]:
        model = nn.Sequential([nn.Dense(width), nn.Tanh(), nn.Dense(n_out)], input_shape=(n_in,), seed=n_in)
        (w1, b1), (w2, b2) = ((layer.weight, layer.bias) for layer in model.layers[::2])
        for x in rng.normal(0, 3, (4, n_in)).astype(np.float32):
            expected = np.tanh(x @ w1 + b1) @ w2 + b2
            np.testing.assert_allclose(model(x), expected, rtol=1e-5, atol=1e-5)
        qmodel = quantize(model)
        X = rng.normal(size=(6, n_in)).astype(np.float32)
        np.testing.assert_allclose(qmodel(X), model(X), atol=0.05)
        np.testing.assert_array_equal(qmodel(X), np.stack([qmodel(x) for x in X]))
    special = np.array([0.0, -0.0, 1e-30, 0.5, -3.0, 8.9, 9.5, 40.0, -np.inf, np.inf, np.nan] * 2, np.float32)
    got = nn.Sequential([nn.Tanh()], input_shape=(special.size,))(special)
    np.testing.assert_allclose(got, np.tanh(special), atol=3e-7)  # NaN stays NaN (assert_allclose checks it)


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env})


def test_environment_variable_picks_the_path():
    code = "import tutelage._core as c; from tutelage._core import quant; print(c.simd_path(), quant.KERNEL)"
    assert run_python(code, TUTELAGE_SIMD="baseline").stdout.split() == ["baseline", "c"]
    best = run_python(code, TUTELAGE_SIMD="no-such-path")
    assert best.stdout.split()[0] == simd.available()[0]
    assert "TUTELAGE_SIMD='no-such-path'" in best.stderr


def test_parity_suite_passes_on_the_forced_baseline(tmp_path):
    """The numpy/PyTorch parity tests of the core and the int8 product, in a process that runs the baseline."""
    suites = [ROOT / "tests" / "nn", ROOT / "tests" / "methods" / "test_quantize.py"]
    if not all(path.exists() for path in suites):
        pytest.skip("the parity tests are not here")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *map(str, suites)],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "TUTELAGE_SIMD": "baseline"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout


HARNESS = r"""
/* Every SIMD table this CPU runs against the baseline table, on awkward sizes and special values. */
#include <math.h>
#include <stdio.h>
#include "simd_kernels.h"

static unsigned state = 12345u;
static float uniform(void) { state = state * 1664525u + 1013904223u; return (float)(state >> 8) / 16777216.0f * 2.0f - 1.0f; }

static int compare(const char *what, const char *table, const float *a, const float *b, int n, float tol) {
    for (int k = 0; k < n; k++) {
        int same_nan = isnan(a[k]) && isnan(b[k]);
        if (!same_nan && !(fabsf(a[k] - b[k]) <= tol)) {
            printf("%s %s: [%d] %g vs baseline %g\n", table, what, k, a[k], b[k]);
            return 1;
        }
    }
    return 0;
}

int main(void) {
    const tutelage_simd_kernels *tables[4];
    int n = tutelage_simd_available(tables), bad = 0;
    const tutelage_simd_kernels *base = tables[n - 1];
    static const int sizes[][2] = {{1, 1}, {3, 5}, {4, 8}, {13, 17}, {16, 64}, {64, 2}, {7, 33}, {40, 130}};
    static float x[256], w[256 * 256], y0[256], y1[256], s[256], b[256];
    static int8_t q[256 * 256];
    for (int t = 0; t < n - 1; t++) {
        const tutelage_simd_kernels *k = tables[t];
        for (unsigned c = 0; c < sizeof sizes / sizeof sizes[0]; c++) {
            int n_in = sizes[c][0], n_out = sizes[c][1], width = (n_out + TUTELAGE_Q8_BLOCK - 1) / TUTELAGE_Q8_BLOCK * TUTELAGE_Q8_BLOCK;
            for (int i = 0; i < n_in; i++) x[i] = 3.0f * uniform();
            for (int i = 0; i < n_in * width; i++) { w[i] = uniform(); q[i] = (int8_t)(127.0f * uniform()); }
            for (int j = 0; j < width; j++) { y0[j] = y1[j] = uniform(); s[j] = 0.01f * uniform(); b[j] = uniform(); }
            base->matvec(x, w, y0, n_in, n_out); k->matvec(x, w, y1, n_in, n_out);
            bad |= compare("matvec", k->name, y1, y0, n_out, 1e-5f * (float)(n_in + 1) * 4.0f);
            base->q8_dense(q, x, s, b, n_in, n_out, width, y0); k->q8_dense(q, x, s, b, n_in, n_out, width, y1);
            bad |= compare("q8_dense", k->name, y1, y0, n_out, 1e-5f * (float)(n_in + 1));
            for (int i = 0; i < n_in; i++) x[i] *= 4.0f;
            x[0] = NAN; if (n_in > 2) { x[1] = INFINITY; x[2] = -40.0f; }
            base->tanh(x, y0, n_in); k->tanh(x, y1, n_in);
            bad |= compare("tanh", k->name, y1, y0, n_in, 3e-7f);
        }
        printf("%s %s\n", bad ? "FAIL" : "ok", k->name);
    }
    return bad;
}
"""

CROSS = {"native": ("cc", None), "aarch64": ("aarch64-linux-gnu-gcc", "qemu-aarch64")}


@pytest.mark.parametrize("target", sorted(CROSS))
def test_simd_tables_agree_with_the_baseline_in_c(target, tmp_path):
    """The C kernels alone, built as strict C99 (no warnings); ``aarch64`` cross-builds the NEON table and runs
    it under qemu-user (Debian: gcc-aarch64-linux-gnu, qemu-user), the one way to test it on an x86 machine."""
    compiler, emulator = CROSS[target]
    if not CSRC.is_dir():
        pytest.skip("the core's C sources are not here (tests run outside a source tree)")
    missing = [tool for tool in (compiler, emulator) if tool is not None and shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed")
    (tmp_path / "harness.c").write_text(HARNESS)
    exe = tmp_path / "harness"
    flags = ["-std=c99", "-O3", "-fno-math-errno", "-fno-trapping-math", "-Wall", "-Wextra", "-Werror", "-pedantic"]
    subprocess.run([compiler, *flags, *(["-static"] if emulator else []), f"-I{CSRC}", str(tmp_path / "harness.c"),
                    *map(str, sorted(CSRC.glob("simd_*.c"))), "-lm", "-o", str(exe)], check=True)
    result = subprocess.run([*([emulator] if emulator else []), str(exe)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    if target == "aarch64":
        assert "ok neon" in result.stdout


def test_atomic_writes_need_no_fchmod(tmp_path, monkeypatch):
    """``os.fchmod`` is missing on Windows before Python 3.13; writes give the usual mode without it."""
    monkeypatch.delattr(os, "fchmod", raising=False)
    target = tmp_path / "sub" / "out.json"
    fileio.write_json(target, {"a": 1})
    assert target.read_text() == '{\n  "a": 1\n}\n'
    assert [p.name for p in target.parent.iterdir()] == ["out.json"]
    if os.name == "posix":
        umask = os.umask(0)
        os.umask(umask)
        assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_reading_needs_no_posix_only_flag(tmp_path, monkeypatch):
    """``os.O_NONBLOCK`` is POSIX-only; bounded reads work without it, bytes unchanged."""
    monkeypatch.delattr(os, "O_NONBLOCK", raising=False)
    path = tmp_path / "data.bin"
    path.write_bytes(b"a\r\nb\n\x00")
    assert fileio.read_limited(path, 100) == b"a\r\nb\n\x00"
    with pytest.raises(OSError, match="Larger than 3 bytes"):
        fileio.read_limited(path, 3)


def forward(seed: int) -> np.ndarray:
    """A worker's job: one model's output (top level, so ``spawn`` can import it)."""
    model = nn.Sequential([nn.Dense(32), nn.Tanh(), nn.Dense(3)], input_shape=(8,), seed=seed)
    return model(np.linspace(-1, 1, 8, dtype=np.float32))


def test_pools_give_the_same_results_with_either_start_method():
    expected = processes.start_method()
    assert expected == ("spawn" if sys.platform == "win32" else "forkserver")
    results = {}
    for method in {expected, "spawn"}:
        context = processes.pool_context(["numpy"], method=method)
        assert context.get_start_method() == method
        with context.Pool(1) as pool:
            results[method] = pool.map(forward, [0, 1])
    for outputs in results.values():
        np.testing.assert_array_equal(np.stack(outputs), np.stack([forward(0), forward(1)]))
