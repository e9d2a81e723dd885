"""Generate a synthetic dataset: serially, in worker processes, or as Ray tasks.

Episodes are grouped into shards of ``episodes_per_shard``; a worker plays a
whole shard in a fresh environment and hands the frames back; the driver
numbers them and writes the shards in order, each file atomically. Since each
episode's seeds and scenario derive from the run seed and its index, the data
is the same whatever the backend and the number of workers, and a rerun with
the same arguments resumes after the last finished shard.
"""
from __future__ import annotations

import collections
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pyarrow as pa

from tutelage.data.features import Features
from tutelage.data.layout import shard_count, shard_episodes
from tutelage.data.provenance import DatasetInfo, finish_info, new_info, row_provenance, start_or_resume, synthetic_depth
from tutelage.data.reader import read_episodes_meta
from tutelage.data.writer import commit_shard, episodes_table, finished_prefix, frames_table, remove_temporaries
from tutelage.errors import SpecError, UserError
from tutelage.processes import pool_context
from tutelage.progress import progress as progress_bar
from tutelage.rollouts.plan import EpisodePlan, EpisodePlanner
from tutelage.rollouts.policy import Policy, PolicySpec, resolve_policy
from tutelage.rollouts.rollout import check_world, make_env, run_episode, world_metrics
from tutelage.sim.metrics import Metric, aggregate
from tutelage.sim.scenarios import ScenarioSampler, sampler_for

BACKENDS = ("process", "ray")
DEFAULT_EPISODES_PER_SHARD = 10


@dataclass(frozen=True)
class ShardJob:
    """Everything a worker needs to play one shard (small and picklable)."""

    shard: int
    world: str
    policy: PolicySpec
    plans: tuple[EpisodePlan, ...]
    features: Features | None
    fps: float
    camera: bool
    max_steps: int | None


@dataclass(frozen=True)
class ShardResult:
    shard: int
    frames: pa.Table
    episodes: pa.Table


def play_shard(job: ShardJob) -> ShardResult:
    """Play every episode of one shard in a fresh environment (run inside a worker); without
    features only the episodes table comes back."""
    from tutelage.plugins import get_host  # the worker's host: registers the worlds, fires episode hooks

    host = get_host(job.policy.plugins)
    env = make_env(job.world, camera=job.camera, max_steps=job.max_steps)
    try:
        policy, metrics, records = Policy(job.policy, env), world_metrics(env), []
        depth = synthetic_depth(job.policy.describe())
        for plan in job.plans:
            policy.reset(plan.seeds.policy)
            record = run_episode(env, policy.act, plan, features=job.features, synthetic=job.policy.synthetic)
            record.meta["synthetic_depth"] = depth
            host.notify("tutelage_episode_end", world=job.world, episode_index=plan.index, info=record.meta)
            records.append(record)
    finally:
        env.close()
    frames = frames_table(records, job.features, job.fps) if job.features is not None else pa.table({})
    return ShardResult(job.shard, frames, episodes_table(records, metrics))


# -- probing -----------------------------------------------------------------


def probe_features(world: str, plan: EpisodePlan, policy: PolicySpec, *, camera: bool,
                   max_steps: int | None) -> tuple[Features, float, dict, tuple[Metric, ...]]:
    """Play one step of the first episode to learn the columns (spaces, info entries, scenario,
    image size, the world's metrics) and to check that the policy can act in this world before
    anything is written."""
    from tutelage.rollouts.rollout import to_action

    env = make_env(world, camera=camera, max_steps=max_steps)
    try:
        observation, info = env.reset(seed=plan.seeds.env, options=plan.reset_options())
        scenario = info.get("scenario", plan.scenario)
        image_shape = tuple(np.shape(env.render())) if camera else None
        actor = Policy(policy, env)
        actor.reset(plan.seeds.policy)
        *_, step_info = env.step(to_action(env.action_space, actor.act(observation, info), where=policy.name))
        features = Features.from_spaces(env.observation_space, env.action_space, info=step_info,
                                        scenario=scenario, camera=camera)
        fps = float(env.metadata.get("render_fps") or 0) or 1.0 / float(getattr(env.unwrapped, "dt", 1.0))
        metrics = world_metrics(env)
    finally:
        env.close()
    image = (image_shape[0], image_shape[1], 3) if image_shape else None
    return features, fps, features.describe(image), metrics


# -- backends ----------------------------------------------------------------


Play = Callable[[Any], Any]


def run_serial(jobs: Sequence[Any], workers: int, address: str | None, play: Play = play_shard) -> Iterator[Any]:
    for job in jobs:
        yield play(job)


def run_processes(jobs: Sequence[Any], workers: int, address: str | None, play: Play = play_shard) -> Iterator[Any]:
    """One process (and one simulator client) per worker, forked from a server (spawned where the
    platform has no forkserver: the same results) that has
    already imported ``play``'s module, the world's, and pandas when installed (which pyarrow
    would otherwise import on a worker's first table, at about 0.15 s per worker)."""
    entry_point = gymnasium.spec(jobs[0].world).entry_point
    world_module = [entry_point.partition(":")[0]] if isinstance(entry_point, str) else []
    context = pool_context([play.__module__, "pandas", *world_module])
    with context.Pool(processes=min(workers, len(jobs))) as pool:
        yield from in_order(jobs, lambda job: pool.apply_async(play, (job,)), lambda handle: handle.get(), workers)


def in_order(jobs: Sequence[Any], submit: Callable[[Any], Any], wait: Callable[[Any], Any],
             workers: int) -> Iterator[Any]:
    """Results in shard order, with at most ``2 * workers`` shards submitted and not yet handed back
    (so memory, and what a kill can lose, stay bounded even when one shard is slow)."""
    pending: collections.deque = collections.deque()
    queue = iter(jobs)
    for job in queue:
        pending.append(submit(job))
        if len(pending) >= 2 * workers:
            break
    while pending:
        result = wait(pending.popleft())
        next_job = next(queue, None)
        if next_job is not None:
            pending.append(submit(next_job))
        yield result


def run_ray(jobs: Sequence[Any], workers: int, address: str | None, play: Play = play_shard) -> Iterator[Any]:
    """Shards as Ray tasks on a local instance (started and shut down here) or on ``address``."""
    try:
        import ray
    except ImportError:
        raise UserError("--backend ray: Ray is not installed (pip install 'tutelage[ray]')") from None
    started = not ray.is_initialized()
    if started:
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": "error"}
        if address:
            ray.init(address=address, **options)
        else:
            ray.init(num_cpus=workers, **options)
    try:
        task = ray.remote(num_cpus=1)(play)
        yield from in_order(jobs, task.remote, ray.get, workers)
    finally:
        if started:
            ray.shutdown()


RUNNERS: dict[str, Callable[..., Iterator[Any]]] = {
    "process": run_processes,
    "ray": run_ray,
}


def run_jobs(jobs: Sequence[Any], workers: int, backend: str, address: str | None,
             play: Play = play_shard) -> Iterator[Any]:
    """``play(job)`` for every job (a shard of episodes, with a ``world``), results in order: in this process
    for one worker, else on the backend's workers."""
    if backend not in BACKENDS:
        raise SpecError(f"backend: unknown backend {backend!r} (available: {', '.join(BACKENDS)})")
    if not jobs:
        return iter(())
    runner = run_serial if workers == 1 and backend == "process" else RUNNERS[backend]
    return runner(jobs, workers, address, play)


def play_episodes(world: str, spec: PolicySpec, plans: Sequence[EpisodePlan], *, workers: int = 1,
                  backend: str = "process", address: str | None = None, max_steps: int | None = None,
                  per_shard: int = 4, description: str = "", quiet: bool = True) -> list[dict[str, Any]]:
    """Play ``plans`` with ``spec`` (no frames kept) and return the episode records in plan order: the
    same records whatever the number of workers or the backend."""
    jobs = [ShardJob(i, world, spec, tuple(plans[start: start + per_shard]), None, 0.0, False, max_steps)
            for i, start in enumerate(range(0, len(plans), per_shard))]
    records: list[dict[str, Any]] = []
    with progress_bar(description or f"playing {spec.name}", len(plans), quiet, unit="episodes") as advance:
        for result in run_jobs(jobs, workers, backend, address):
            rows = result.episodes.to_pylist()
            records.extend({**row, "scenario": json.loads(row["scenario"])} for row in rows)
            advance(len(rows))
    return records


# -- the driver --------------------------------------------------------------


def generate(world: str, policy: str, episodes: int, out: str | Path, *, host: Any = None, workers: int = 1,
             backend: str = "process", seed: int = 0, edge_case_fraction: float = 0.0,
             episodes_per_shard: int = DEFAULT_EPISODES_PER_SHARD, camera: bool = False, max_steps: int | None = None,
             scenarios: str | Path | None = None, ray_address: str | None = None, progress: bool = False,
             sampler: ScenarioSampler | None = None, policy_options: dict[str, Any] | None = None) -> DatasetInfo:
    """Write ``episodes`` episodes of ``world`` played by ``policy`` to the dataset ``out``.

    ``policy`` is ``"random"``, ``"expert"``, a teacher name (built with
    ``policy_options``) or a ``.safetensors`` file, looked up in ``host`` (a
    :class:`tutelage.plugins.PluginHost`; by default the installed plugins).
    ``scenarios`` replays a failure catalogue (see
    :mod:`tutelage.rollouts.failure_search`); ``sampler`` replaces the world's
    default scenario ranges and edge cases. Reruns with the same arguments resume.
    """
    started = time.perf_counter()
    _check_counts(episodes=episodes, workers=workers, episodes_per_shard=episodes_per_shard, seed=seed)
    if backend not in BACKENDS:
        raise SpecError(f"--backend: unknown backend {backend!r} (available: {', '.join(BACKENDS)})")
    if max_steps is not None and max_steps < 1:
        raise SpecError(f"--max-steps: must be at least 1, got {max_steps}")
    if host is None:
        from tutelage.plugins import get_host

        host = get_host()
    check_world(world)
    catalogue, catalogue_sha = _load_scenarios(scenarios, world)
    spec = resolve_policy(policy, world, host, policy_options)
    planner = EpisodePlanner(sampler_for(world, sampler), edge_case_fraction=edge_case_fraction, catalogue=catalogue,
                             where="--edge-case-fraction")
    if edge_case_fraction > 0 and not planner.edge_case_names:
        raise SpecError(f"--edge-case-fraction: world {world!r} declares no edge cases")
    features, fps, described, metrics = probe_features(world, planner.plan(seed, 0), spec, camera=camera,
                                                       max_steps=max_steps)
    generation = json.loads(json.dumps({
        "world": world, "policy": spec.fingerprint(), "episodes": episodes, "seed": seed,
        "episodes_per_shard": episodes_per_shard, "edge_case_fraction": edge_case_fraction,
        "camera": camera, "max_steps": max_steps, "scenarios_sha256": catalogue_sha,
        **({"scenario_ranges": sampler.to_toml()} if sampler is not None else {}),
    }))
    root = Path(out)
    plugin_versions = {info.name: info.version for info in host.plugins()}
    info = start_or_resume(root, new_info(generation, spec.describe(), described, fps, plugin_versions))
    shards = shard_count(episodes, episodes_per_shard)
    remove_temporaries(root)
    done, offset = finished_prefix(root, shards)
    resumed_frames = offset
    jobs = [ShardJob(shard, world, spec,
                     tuple(planner.plan(seed, i) for i in shard_episodes(shard, episodes, episodes_per_shard)),
                     features, fps, camera, max_steps)
            for shard in range(done, shards)]
    done_episodes = min(done * episodes_per_shard, episodes)
    with progress_bar("generating", episodes, not progress, completed=done_episodes, unit="episodes") as advance:
        for result in run_jobs(jobs, workers, backend, ray_address):
            offset += commit_shard(root, result.shard, result.frames, result.episodes, offset)
            advance(result.episodes.num_rows)
    totals = _totals(root, shards, metrics)
    info = finish_info(root, info, totals)
    return DatasetInfo(root, episodes, totals["total_frames"], shards, done, totals["synthetic_share"],
                       time.perf_counter() - started, totals["total_frames"] - resumed_frames, info)


def _check_counts(**values: int) -> None:
    minimum = {"seed": 0}
    for name, value in values.items():
        if not isinstance(value, (int, np.integer)) or value < minimum.get(name, 1):
            flag = "--" + name.replace("_", "-")
            raise SpecError(f"{flag}: must be an integer of at least {minimum.get(name, 1)}, got {value!r}")


def _load_scenarios(path: str | Path | None, world: str) -> tuple[list[dict[str, Any]], str]:
    if path is None:
        return [], ""
    from tutelage.sim.catalogue import load_catalogue

    catalogue = load_catalogue(path, world=world)
    return catalogue.entries, catalogue.sha256


def _totals(root: Path, shards: int, metrics: tuple[Metric, ...]) -> dict[str, Any]:
    """Counts and statistics (the world's metrics included) over every episode, read back from the
    episodes files."""
    episodes = read_episodes_meta(root)
    length = episodes.column("length").to_numpy()
    frames = int(length.sum())
    success = episodes.column("success").drop_null().to_numpy(zero_copy_only=False)
    stats = {
        "mean_return": float(np.mean(episodes.column("return").to_numpy())),
        "mean_length": float(np.mean(length)),
        "success_rate": float(np.mean(success)) if success.size else None,
        **aggregate(metrics, episodes.to_pylist()),
    }
    depths = np.repeat(episodes.column("synthetic_depth").to_numpy(), length)  # one per frame
    return {"total_episodes": episodes.num_rows, "total_frames": frames, "total_shards": shards,
            **row_provenance(depths), "stats": stats}
