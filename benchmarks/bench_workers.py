"""1 process against 2 worker processes, for evaluation or DAgger: wall time, speed-up and identical results.

    python benchmarks/bench_workers.py [--task evaluate|dagger] [--world tutelage/Driving-v0] [--policy expert]
                                       [--episodes 16] [--rounds 3] [--repeats 5]

``evaluate`` plays ``--episodes`` held-out episodes of ``--policy``; ``dagger``
trains a fresh 64-64 student from the world's expert for ``--rounds`` rounds of
``--episodes`` episodes (the rollouts on the workers, the training between
rounds in the calling process). ``workers=1`` runs in the calling process,
``workers=2`` on the processes backend; the two take turns ``--repeats`` times
after one untimed run each (the forkserver up), so a change in the machine's
load hits both alike. Prints the median wall time of each, the median of the
per-turn ratios and whether the results (episode records, or the student's θ)
are identical.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any, Callable

import tutelage.worlds  # noqa: F401  (registers the worlds with Gymnasium)
from tutelage.methods.dagger import dagger
from tutelage.methods.evaluate import evaluate
from tutelage.plugins import get_host
from tutelage.rollouts.policy import resolve_policy, world_expert
from tutelage.sim.spaces import io_sizes


def evaluation(args: argparse.Namespace) -> Callable[[int], Any]:
    spec = resolve_policy(args.policy, args.world, get_host())
    return lambda workers: evaluate(spec, args.world, episodes=args.episodes, seed=0, workers=workers,
                                    quiet=True).episodes


def dagger_student(args: argparse.Namespace) -> Callable[[int], Any]:
    host = get_host()
    teacher = host.registry("teachers").get(world_expert(host, args.world))
    inputs, outputs = io_sizes(args.world)

    def run(workers: int) -> list[float]:
        student = host.registry("model_types").get("mlp").build((inputs,), outputs, hidden=(64, 64), seed=0)
        trained, _ = dagger(args.world, teacher(), student, rounds=args.rounds, episodes_per_round=args.episodes,
                            seed=0, quiet=True, workers=workers)
        return trained.theta.tolist()

    return run


TASKS = {"evaluate": evaluation, "dagger": dagger_student}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=TASKS, default="evaluate")
    parser.add_argument("--world", default="tutelage/Driving-v0")
    parser.add_argument("--policy", default="expert", help="evaluate: a teacher name or a .safetensors model")
    parser.add_argument("--episodes", type=int, default=16, help="evaluate: episodes; dagger: episodes per round")
    parser.add_argument("--rounds", type=int, default=3, help="dagger: rounds")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    task = TASKS[args.task](args)

    def timed(workers: int) -> tuple[float, Any]:
        started = time.perf_counter()
        result = task(workers)
        return time.perf_counter() - started, result

    print(f"{args.task} in {args.world}, {args.episodes} episodes{f' x {args.rounds} rounds' if args.task == 'dagger' else ''}; "
          f"{len(os.sched_getaffinity(0))} CPUs, load average {os.getloadavg()[0]:.2f}")
    results = {workers: timed(workers)[1] for workers in (1, 2)}  # untimed: the forkserver starts
    seconds: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(args.repeats):
        for workers in (1, 2):
            elapsed, result = timed(workers)
            seconds[workers].append(elapsed)
            assert result == results[workers], "the result changed between repeats"
    ratios = [a / b for a, b in zip(seconds[1], seconds[2])]
    for workers, times in seconds.items():
        print(f"{workers} worker{'s' if workers > 1 else ' '}: median {statistics.median(times):.2f} s "
              f"(runs: {', '.join(f'{t:.2f}' for t in times)})")
    print(f"speed-up of 2 workers: median of paired ratios {statistics.median(ratios):.2f}x "
          f"(range {min(ratios):.2f}-{max(ratios):.2f}, {args.repeats} turns)")
    print(f"identical results for 1 and 2 workers: {results[1] == results[2]}; "
          f"load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
