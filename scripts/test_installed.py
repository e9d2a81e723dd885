"""Run tutelage's test suite against the INSTALLED package (a wheel), from a scratch directory.

    python scripts/test_installed.py PROJECT [PYTEST ARGS...]

PROJECT is the source checkout that holds tests/; pytest runs from an empty
temporary directory, so ``import tutelage`` finds the installed package and
never PROJECT/src (checked before the tests start). Arguments that name a path
under tests/ are taken relative to PROJECT; with none, all of PROJECT/tests
runs. The pytest configuration (markers, ``-m 'not slow'``) is PROJECT's.
cibuildwheel's test-command and scripts/build_wheel.sh both call this.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

WHERE = "import tutelage, tutelage._core as c; print(tutelage.__file__); print(c.simd_path())"


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    project, args = Path(argv[0]).resolve(), argv[1:]
    args = [str(project / a) if a.replace("\\", "/").startswith("tests/") else a for a in args]
    if not any(a.startswith(str(project / "tests")) for a in args):
        args.append(str(project / "tests"))
    with tempfile.TemporaryDirectory(prefix="tutelage-tests-") as scratch:
        found = subprocess.run([sys.executable, "-c", WHERE], cwd=scratch, capture_output=True, text=True)
        if found.returncode:
            print(f"tutelage does not import from {scratch}:\n{found.stderr}", file=sys.stderr)
            return 1
        location, path = found.stdout.split()
        if Path(location).resolve().is_relative_to(project / "src"):
            print(f"tutelage imports from the source tree ({location}), not an installed wheel", file=sys.stderr)
            return 1
        print(f"testing the installed tutelage at {Path(location).parent} (SIMD path: {path})", flush=True)
        return subprocess.call([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=scratch)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
