"""Dataset generation: recording overhead, and throughput of 1 process, 2 processes, Ray with 2 workers.

    python benchmarks/bench_generate.py [--episodes 8] [--max-steps 400] [--repeats 3]

Each configuration writes the same dataset (checked: identical data files)
into a fresh directory; the median wall time over ``--repeats`` runs gives
frames per second. Ray is started once, before the timed runs (its start-up
time is printed separately), as a long generation job would see it.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def timed_runs(label: str, repeats: int, run) -> tuple[float, int, Path]:
    seconds, frames, out = [], 0, None
    for repeat in range(repeats):
        out = Path(tempfile.mkdtemp(prefix=f"bench-{label}-"))
        shutil.rmtree(out)
        result = run(out)
        seconds.append(result.seconds)
        frames = result.frames
        if repeat < repeats - 1:
            shutil.rmtree(out)
    return statistics.median(seconds), frames, out


def same_data(a: Path, b: Path) -> bool:
    files = sorted(p.relative_to(a) for p in (a / "data").rglob("*.parquet"))
    return files == sorted(p.relative_to(b) for p in (b / "data").rglob("*.parquet")) and all(
        (a / f).read_bytes() == (b / f).read_bytes() for f in files)


def recording_overhead(world: str, policy: str, episodes: int, max_steps: int, repeats: int) -> tuple[float, float]:
    """Median seconds to play the episodes bare (reset, act, step) and to play and record them as a shard."""
    from tutelage.sim.generate import ScenarioPlanner, ShardJob, play_shard, probe_features
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
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--max-steps", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from tutelage.sim.generate import generate

    common = dict(episodes_per_shard=1, max_steps=args.max_steps, seed=0)

    def run(workers: int, backend: str = "process"):
        return lambda out: generate(args.world, args.policy, args.episodes, out, workers=workers, backend=backend, **common)

    print(f"{args.world}, policy {args.policy}, {args.episodes} episodes of up to {args.max_steps} steps, "
          f"one episode per shard; {len(os.sched_getaffinity(0))} CPUs, load average {os.getloadavg()[0]:.2f}")
    bare, recorded = recording_overhead(args.world, args.policy, args.episodes, args.max_steps, args.repeats)
    print(f"recording: bare loop {bare:.2f} s, played and recorded as columns {recorded:.2f} s "
          f"(+{100 * (recorded / bare - 1):.0f} %)")
    rows = []
    one = timed_runs("p1", args.repeats, run(1))
    rows.append(("1 process", *one))
    two = timed_runs("p2", args.repeats, run(2))
    rows.append(("2 processes", *two))

    import ray

    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")
    ray_start = time.perf_counter() - started
    try:
        timed_runs("ray-warmup", 1, run(2, "ray"))  # first tasks start Ray's worker processes
        rays = timed_runs("ray", args.repeats, run(2, "ray"))
    finally:
        ray.shutdown()
    rows.append(("Ray, 2 workers", *rays))

    print(f"{'configuration':<16}{'median s':>10}{'frames/s':>10}{'vs 1 process':>14}")
    for label, seconds, frames, _ in rows:
        print(f"{label:<16}{seconds:>10.2f}{frames / seconds:>10.0f}{one[0] / seconds:>13.2f}x")
    print(f"Ray vs 2 processes: {two[0] / rays[0]:.2f}x; ray.init took {ray_start:.1f} s (not in the timings)")
    print("identical data:", {label: same_data(one[2], out) for label, _, _, out in rows[1:]})
    for row in rows:
        shutil.rmtree(row[3], ignore_errors=True)


if __name__ == "__main__":
    main()
