"""Start-up time: ``tutelage --help`` and ``python -c "import tutelage"`` against a bare interpreter.

Median wall time of 10 fresh processes each (targets on a quiet machine: 0.3 s and 0.25 s). The bare
``python -c pass`` in the same run shows how much of it is the interpreter itself.

    python benchmarks/bench_startup.py [--runs 10]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

TARGETS = {"tutelage --help": 0.3, "python -c 'import tutelage'": 0.25}


def wall(command: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    script = shutil.which("tutelage") or ""
    commands = {
        "python -c pass (baseline)": [sys.executable, "-c", "pass"],
        "python -c 'import tutelage'": [sys.executable, "-c", "import tutelage"],
        "tutelage --help": [script, "--help"] if script else [sys.executable, "-m", "tutelage.cli", "--help"],
        "python -c 'import gymnasium' (reference)": [sys.executable, "-c", "import gymnasium"],
    }
    medians = {}
    print(f"{'command':44} {'median s':>9} {'min s':>7} {'vs bare':>8} {'target':>7}")
    for label, command in commands.items():
        times = wall(command, args.runs)
        medians[label] = statistics.median(times)
        ratio = medians[label] / medians["python -c pass (baseline)"]
        target = TARGETS.get(label)
        mark = "" if target is None else f"{target:.2f} {'met' if medians[label] <= target else 'MISSED'}"
        print(f"{label:44} {medians[label]:9.3f} {min(times):7.3f} {ratio:7.1f}x {mark:>7}")


if __name__ == "__main__":
    main()
