"""Learning by cheating: a sensor-only student learns from a privileged expert by DAgger, beside behavior cloning.

    python benchmarks/bench_dagger.py --world tutelage/Driving-v0 [--rounds 10] [--episodes-per-round 12]
    python benchmarks/bench_dagger.py --world tutelage/Reach-v0 --rounds 6 --episodes-per-round 40

The expert reads the privileged ground truth in ``info``; the students (MLP
64-64 tanh) see only the observation (driving: ego state + lidar). DAgger runs
``--rounds`` rounds of ``--episodes-per-round`` training episodes with β
falling linearly from 1 to 0 over ``--rampdown`` rounds (then the student
drives alone); behavior cloning gets the same number of
episodes, all driven by the expert, and twice the epochs. All three policies
are then evaluated on the same ``--episodes`` held-out scenarios (seeds
disjoint from training), ``--edge-case-fraction`` of them named edge cases,
each name equally often.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import tutelage  # noqa: F401  (registers the worlds)
from tutelage.methods.bc import behavior_cloning
from tutelage.methods.dagger import collect_demonstrations, dagger
from tutelage.methods.evaluate import evaluate
from tutelage.methods.schedules import LinearBetaSchedule
from tutelage.plugins import registry
from tutelage.sim.spaces import io_sizes


def percent(value: float) -> str:
    return f"{100 * value:.1f} %"


def per_km(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", default="tutelage/Driving-v0")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--episodes-per-round", type=int, default=12)
    parser.add_argument("--rampdown", type=int, default=4, help="rounds over which β falls from 1 to 0")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--episodes", type=int, default=200, help="held-out evaluation episodes")
    parser.add_argument("--edge-case-fraction", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    expert = registry("teachers").get(registry("worlds").get(args.world).expert)()
    mlp = registry("model_types").get("mlp")
    inputs, outputs = io_sizes(args.world)
    build = lambda: mlp.build((inputs,), outputs, seed=args.seed, hidden=(64, 64), activation="tanh")  # noqa: E731
    train = {"epochs": args.epochs, "batch_size": 64, "lr": 1e-3}

    started = time.perf_counter()
    student, derivation = dagger(args.world, expert, build(), rounds=args.rounds,
                                 episodes_per_round=args.episodes_per_round, seed=args.seed,
                                 beta_schedule=LinearBetaSchedule(args.rampdown),
                                 edge_case_fraction=args.edge_case_fraction, quiet=True, **train)
    dagger_s = time.perf_counter() - started
    started = time.perf_counter()
    X, Y, _ = collect_demonstrations(args.world, expert, args.rounds * args.episodes_per_round, seed=args.seed,
                                     edge_case_fraction=args.edge_case_fraction)
    bc_student, _ = behavior_cloning(build(), (X, Y), teacher=expert.name, quiet=True, seed=args.seed,
                                     **{**train, "epochs": 2 * args.epochs})
    bc_s = time.perf_counter() - started

    print(f"{args.world}: observation {inputs} values (sensors only), action {outputs}; student MLP 64-64 tanh "
          f"({student.n_params:,} params)")
    print(f"DAgger: {args.rounds} rounds × {args.episodes_per_round} episodes, {derivation.metrics['samples']:,} "
          f"labelled states, {dagger_s:.0f} s; BC: {len(X):,} expert states, {bc_s:.0f} s")
    print("\n| round | β | teacher share | steps | aggregate | rollout success |\n|---|---|---|---|---|---|")
    for r in derivation.history:
        print(f"| {r['round']} | {r['beta']:.2f} | {percent(r['teacher_share'])} | {r['steps']:,} | {r['samples']:,} | "
              f"{percent(r['success_rate'])} |")

    results = {}
    for name, policy in (("expert (privileged)", expert), ("DAgger student", student), ("BC student", bc_student)):
        started = time.perf_counter()
        results[name] = evaluate(policy, args.world, episodes=args.episodes, seed=args.seed,
                                 edge_case_fraction=args.edge_case_fraction, quiet=True)
        results[name].seconds = time.perf_counter() - started
    reference = results["expert (privileged)"]
    print(f"\nheld-out evaluation: {args.episodes} episodes, {percent(reference.edge_case_share)} named edge cases")
    print("| policy | success | of expert | collision rate | collisions/km | mean return |\n|---|---|---|---|---|---|")
    for name, result in results.items():
        print(f"| {name} | {percent(result.success_rate)} | {percent(result.success_rate / reference.success_rate)} | "
              f"{percent(result.collision_rate)} | {per_km(result.collisions_per_km)} | {result.mean_return:.1f} |")
    print("\n| edge case | episodes | " + " | ".join(results) + " |\n|---|---|" + "---|" * len(results))
    for case, summary in reference.by_edge_case.items():
        cells = " | ".join(percent(r.by_edge_case[case]["success_rate"]) for r in results.values())
        print(f"| {case} | {summary['episodes']} | {cells} |")
    x = np.zeros(inputs, np.float32)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(5000):
            student(x)
        times.append((time.perf_counter() - start) / 5000 * 1e6)
    print(f"\nstudent batch-1 inference: {statistics.median(times):.2f} µs")


if __name__ == "__main__":
    main()
