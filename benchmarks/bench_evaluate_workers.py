"""Evaluation on 1 process against 2 worker processes: wall time, speed-up and identical records.

    python benchmarks/bench_evaluate_workers.py [--world tutelage/Driving-v0] [--policy expert] [--episodes 16] [--repeats 5]

``evaluate`` plays the same held-out episodes with ``workers=1`` (in the
calling process) and ``workers=2`` (the processes backend); the two take
turns ``--repeats`` times, after one untimed run each (the forkserver up), so
a change in the machine's load hits both alike. Prints the median wall time
of each, the median of the per-turn ratios and whether the episode records
are identical.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import tutelage.worlds  # noqa: F401  (registers the worlds with Gymnasium)
from tutelage.methods.evaluate import evaluate
from tutelage.plugins import get_host
from tutelage.rollouts.policy import resolve_policy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", default="tutelage/Driving-v0")
    parser.add_argument("--policy", default="expert", help="a teacher name or a .safetensors model")
    parser.add_argument("--episodes", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    spec = resolve_policy(args.policy, args.world, get_host())

    def run(workers: int) -> tuple[float, list[dict]]:
        started = time.perf_counter()
        result = evaluate(spec, args.world, episodes=args.episodes, seed=0, workers=workers, quiet=True)
        return time.perf_counter() - started, result.episodes

    print(f"{args.world}, policy {args.policy}, {args.episodes} held-out episodes; "
          f"{len(os.sched_getaffinity(0))} CPUs, load average {os.getloadavg()[0]:.2f}")
    records = {workers: run(workers)[1] for workers in (1, 2)}  # untimed: the forkserver starts
    seconds: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(args.repeats):
        for workers in (1, 2):
            elapsed, episodes = run(workers)
            seconds[workers].append(elapsed)
            assert episodes == records[workers], "evaluation records changed between repeats"
    ratios = [a / b for a, b in zip(seconds[1], seconds[2])]
    for workers, times in seconds.items():
        print(f"{workers} worker{'s' if workers > 1 else ' '}: median {statistics.median(times):.2f} s "
              f"(runs: {', '.join(f'{t:.2f}' for t in times)})")
    print(f"speed-up of 2 workers: median of paired ratios {statistics.median(ratios):.2f}x "
          f"(range {min(ratios):.2f}-{max(ratios):.2f}, {args.repeats} turns)")
    print(f"identical records for 1 and 2 workers: {records[1] == records[2]}; "
          f"load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
