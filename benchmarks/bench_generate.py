"""Dataset generation: recording overhead, and throughput of 1 process, 2 processes, Ray with 2 workers.

    python benchmarks/bench_generate.py [--episodes 16] [--max-steps 1000] [--repeats 3]

Each configuration writes the same dataset (checked: identical data files)
into a fresh directory; the configurations take turns, ``--repeats`` times,
and the speed-ups are medians of the ratios within a turn, so a change in
the shared machine's load hits all of them alike. Ray is started once, and
each configuration runs once untimed first (forkserver and Ray workers up),
as a long generation job would see them; ``ray.init`` is timed separately.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def same_data(a: Path, b: Path) -> bool:
    files = sorted(p.relative_to(a) for p in (a / "data").rglob("*.parquet"))
    return files == sorted(p.relative_to(b) for p in (b / "data").rglob("*.parquet")) and all(
        (a / f).read_bytes() == (b / f).read_bytes() for f in files)


def recording_overhead(world: str, policy: str, episodes: int, max_steps: int, repeats: int) -> tuple[float, float]:
    """Median seconds to play the episodes bare (reset, act, step) and to play and record them as a shard."""
    from tutelage.rollouts.generate import ScenarioPlanner, ShardJob, play_shard, probe_features
    from tutelage.sim.rollout import Policy, make_env, reset_env, resolve_policy

    spec = resolve_policy(policy, world)
    planner = ScenarioPlanner(world)
    plans = tuple(planner.plan(0, i) for i in range(episodes))
    features, fps, _ = probe_features(world, plans[0], spec, camera=False, max_steps=max_steps)

    def bare() -> None:
        env = make_env(world, max_steps=max_steps)
        actor = Policy(spec, env)
        for plan in plans:
            observation, info = reset_env(env, plan)
            actor.reset(plan.seeds.policy)
            done = False
            while not done:
                observation, _, terminated, truncated, info = env.step(actor.act(observation, info))
                done = terminated or truncated
        env.close()

    job = ShardJob(0, world, spec, plans, features, fps, False, max_steps)
    times = {"bare": [], "recorded": []}
    for _ in range(repeats):
        for name, run in (("bare", bare), ("recorded", lambda: play_shard(job))):
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    return statistics.median(times["bare"]), statistics.median(times["recorded"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", default="tutelage/Driving-v0")
    parser.add_argument("--policy", default="expert")
    parser.add_argument("--episodes", type=int, default=16)
    parser.add_argument("--max-steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from tutelage.rollouts.generate import generate

    common = dict(episodes_per_shard=1, max_steps=args.max_steps, seed=0)

    def run(workers: int, backend: str = "process"):
        return lambda out: generate(args.world, args.policy, args.episodes, out, workers=workers, backend=backend, **common)

    print(f"{args.world}, policy {args.policy}, {args.episodes} episodes of up to {args.max_steps} steps, "
          f"one episode per shard; {len(os.sched_getaffinity(0))} CPUs, load average {os.getloadavg()[0]:.2f}")
    bare, recorded = recording_overhead(args.world, args.policy, args.episodes, args.max_steps, args.repeats)
    print(f"recording: bare loop {bare:.2f} s, played and recorded as columns {recorded:.2f} s "
          f"(+{100 * (recorded / bare - 1):.0f} %)")
    import ray

    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="error")
    ray_start = time.perf_counter() - started
    configurations = {"1 process": run(1), "2 processes": run(2), "Ray, 2 workers": run(2, "ray")}
    scratch = Path(tempfile.mkdtemp(prefix="bench-generate-"))
    seconds: dict[str, list[float]] = {label: [] for label in configurations}
    try:
        for label, go in configurations.items():  # untimed: starts the forkserver and Ray's workers
            go(scratch / f"warmup-{label}")
        for repeat in range(args.repeats):  # interleaved, so a change of load hits every configuration
            for label, go in configurations.items():
                out = scratch / f"{repeat}-{label}"
                result = go(out)
                seconds[label].append(result.seconds)
                frames = result.frames
        same = {label: same_data(scratch / "0-1 process", scratch / f"0-{label}") for label in list(configurations)[1:]}
    finally:
        ray.shutdown()
        shutil.rmtree(scratch, ignore_errors=True)

    serial = seconds["1 process"]
    print(f"{'configuration':<16}{'median s':>10}{'frames/s':>10}{'vs 1 process (median of paired ratios)':>42}")
    for label, times in seconds.items():
        ratio = statistics.median(a / b for a, b in zip(serial, times))
        print(f"{label:<16}{statistics.median(times):>10.2f}{frames / statistics.median(times):>10.0f}{ratio:>41.2f}x")
    ray_vs = statistics.median(a / b for a, b in zip(seconds["2 processes"], seconds["Ray, 2 workers"]))
    print(f"Ray vs 2 processes: {ray_vs:.2f}x; ray.init took {ray_start:.1f} s (not in the timings)")
    print(f"identical data: {same}; load average now {os.getloadavg()[0]:.2f}")

if __name__ == "__main__":
    main()
