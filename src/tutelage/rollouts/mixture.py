"""The β-mixture of a teacher and a student: DAgger's rollouts, in this process or on workers.

At each step the executed action is the teacher's with probability β and the
student's otherwise; the teacher labels the visited states. Each episode
draws its coin flips from its own generator (the caller's seed and the
episode's index), and each episode resets its world from its plan, so the
labels and records are the same whatever the number of workers or the
backend (the shards run on ``generate``'s process and Ray runners).
"""
from __future__ import annotations

import contextlib
import pickle
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tutelage.errors import SpecError
from tutelage.rollouts.plan import EpisodePlan
from tutelage.rollouts.policy import as_policy, observation_vector, reset_policy
from tutelage.rollouts.rollout import make_env, run_episode

Collected = tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]


def collect(
    env: Any,
    teacher: Any,
    plan: Sequence[EpisodePlan],
    *,
    beta: float = 1.0,
    student: Any = None,
    seed: Sequence[int] = (0,),
    observation_keys: Sequence[str] | None = None,
    on_episode: Callable[[], None] = lambda: None,
    label_every: int = 1,
    labels_per_episode: int | None = None,
) -> Collected:
    """Roll out the β-mixture of teacher and student in ``env``; return ``(X, teacher labels, episode records)``.

    ``X`` holds the observation vector of every ``label_every``-th state (e.g.
    each new camera frame); with ``labels_per_episode`` at most that many of an
    episode's labelled states, evenly spaced, so that long failed episodes do
    not swamp the aggregate. Episode ``i`` of the plan flips its coins with
    ``np.random.default_rng([*seed, i])``. Each record gains
    ``teacher_steps``: the steps on which the teacher's action was executed.
    """
    if beta < 1.0 and student is None:
        raise SpecError("beta < 1 needs a student to drive")
    teacher_act = as_policy(teacher)
    student_act = as_policy(student, observation_keys) if student is not None else None
    X: list[np.ndarray] = []
    Y: list[np.ndarray] = []
    records = []
    for planned in plan:
        first = len(X)
        reset_policy(teacher, planned.seeds.policy)
        rng = np.random.default_rng([*seed, planned.index])
        teacher_steps = step = 0

        def act(observation: Any, info: dict) -> Any:
            nonlocal teacher_steps, step
            label = np.asarray(teacher_act(observation, info))
            if step % label_every == 0:
                X.append(observation_vector(observation, observation_keys))
                Y.append(label)
            step += 1
            if beta >= 1.0 or (beta > 0.0 and rng.random() < beta):
                teacher_steps += 1
                return label
            return student_act(observation, info)

        record = run_episode(env, act, planned).meta
        record["teacher_steps"] = teacher_steps
        if labels_per_episode is not None and len(X) - first > labels_per_episode:
            keep = first + np.linspace(0, len(X) - first - 1, labels_per_episode).round().astype(int)
            X[first:], Y[first:] = [X[i] for i in keep], [Y[i] for i in keep]
        records.append(record)
        on_episode()
    if not X:
        raise SpecError("the rollouts produced no steps")
    return np.stack(X), np.stack(Y), records


@dataclass(frozen=True)
class MixtureJob:
    """One shard of mixture episodes for a worker. ``payload`` is the pickled ``(teacher, student)``,
    unpickled after the worker's host has loaded ``plugins`` (so a local plugin's classes resolve)."""

    shard: int
    world: str
    payload: bytes
    plans: tuple[EpisodePlan, ...]
    beta: float
    seed: tuple[int, ...]
    observation_keys: tuple[str, ...] | None
    label_every: int
    labels_per_episode: int | None
    max_steps: int | None
    env_kwargs: Mapping[str, Any] | None
    plugins: tuple[str, ...]


def play_mixture_shard(job: MixtureJob) -> Collected:
    """Play one shard in a fresh environment (run inside a worker)."""
    from tutelage.plugins import get_host  # the worker's host: registers the worlds, loads local plugins

    get_host(job.plugins)
    teacher, student = pickle.loads(job.payload)  # our own bytes, made by the driver for this job
    env = make_env(job.world, max_steps=job.max_steps, env_kwargs=dict(job.env_kwargs or {}))
    with contextlib.closing(env):
        return collect(env, teacher, job.plans, beta=job.beta, student=student, seed=job.seed,
                       observation_keys=job.observation_keys, label_every=job.label_every,
                       labels_per_episode=job.labels_per_episode)


def collect_on_workers(
    world: str,
    teacher: Any,
    plan: Sequence[EpisodePlan],
    *,
    workers: int,
    backend: str = "process",
    beta: float = 1.0,
    student: Any = None,
    seed: Sequence[int] = (0,),
    observation_keys: Sequence[str] | None = None,
    label_every: int = 1,
    labels_per_episode: int | None = None,
    max_steps: int | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    plugins: Sequence[str] = (),
    on_episode: Callable[[], None] = lambda: None,
    per_shard: int = 2,
) -> Collected:
    """:func:`collect` with the episodes spread over ``workers`` processes or Ray tasks: the same arrays and
    records, in plan order, as one process gives."""
    from tutelage.rollouts.generate import run_jobs

    try:
        payload = pickle.dumps((teacher, student))
    except Exception as exc:
        raise SpecError(f"workers: the teacher and student must be picklable to play on {workers} workers "
                        f"({type(exc).__name__}: {exc}); use workers = 1") from None
    keys = tuple(observation_keys) if observation_keys is not None else None
    jobs = [MixtureJob(i, world, payload, tuple(plan[start: start + per_shard]), beta, tuple(seed), keys,
                       label_every, labels_per_episode, max_steps, env_kwargs, tuple(plugins))
            for i, start in enumerate(range(0, len(plan), per_shard))]
    X, Y, records = [], [], []
    for x, y, shard_records in run_jobs(jobs, workers, backend, None, play=play_mixture_shard):
        X.append(x)
        Y.append(y)
        records.extend(shard_records)
        for _ in shard_records:
            on_episode()
    if not X:
        raise SpecError("the rollouts produced no steps")
    return np.concatenate(X), np.concatenate(Y), records
