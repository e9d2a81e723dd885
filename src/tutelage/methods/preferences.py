"""Preference data: paired rollouts on the same scenario, judged in both orders, written as Parquet.

A pair is two :class:`Trajectory` of one :class:`~tutelage.rollouts.plan.EpisodePlan`
(same scenario and world seed): two policies, a policy and a perturbed copy
(:func:`perturbed`), or two samples of a stochastic policy
(:class:`GaussianPolicy`; each trajectory of a plan gets its own policy seed).
:func:`judge_dataset` judges pairs in chunks, each chunk written atomically as
a part file, so a killed run resumes where it stopped with identical data; the
parts are then joined into ``preferences.parquet`` (one row per pair: context,
both trajectory ids, the combined verdict, both orders' raw verdicts) beside
``trajectories.parquet`` (steps as flat float lists, for reward models).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

from tutelage.errors import DataError
from tutelage.fileio import atomic_path
from tutelage.judging import JudgedPair, judge_pairs
from tutelage.rollouts.plan import EpisodePlan
from tutelage.rollouts.policy import as_policy, observation_vector, reset_policy
from tutelage.rollouts.rollout import make_env, run_episode

PREFERENCES = "preferences.parquet"
TRAJECTORIES = "trajectories.parquet"
PARTS = "parts"


@dataclass
class Trajectory:
    """One episode: ``observations`` ``(T, d)`` and ``actions`` ``(T, k)`` a policy saw and took, the
    privileged ``infos`` the world returned (``T + 1``: the reset's, then each step's; None once stored:
    only oracles and privileged judges read them), ``meta`` (policy, seeds, scenario, success) and the
    time limit ``horizon``."""

    id: str
    observations: np.ndarray
    actions: np.ndarray
    infos: list[dict[str, Any]] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    horizon: int = 0

    @property
    def length(self) -> int:
        return int(self.actions.shape[0])

    def steps(self) -> np.ndarray:
        """Per-step inputs of a reward model: observation and action, ``(T, d + k)`` float32."""
        return np.concatenate([self.observations, self.actions], axis=1).astype(np.float32)


@dataclass(frozen=True)
class Pair:
    """Two trajectories of one scenario and the context a judge sees (world, episode, seed, scenario)."""

    id: str
    context: dict[str, Any]
    first: Trajectory
    second: Trajectory

    def digest(self) -> str:
        """A fingerprint of both trajectories' steps (a resumed judge stage reuses a chunk only if they match)."""
        sha = hashlib.sha256()
        for t in (self.first, self.second):
            sha.update(t.id.encode() + np.ascontiguousarray(t.observations).tobytes() + np.ascontiguousarray(t.actions).tobytes())
        return sha.hexdigest()[:16]


class _Recorder(gymnasium.Wrapper):
    """Keeps each step's observation and action, and every info (the reset's, then each step's)."""

    def reset(self, **kwargs: Any):
        observation, info = self.env.reset(**kwargs)
        self.observations, self.actions, self.infos = [observation], [], [info]
        return observation, info

    def step(self, action: Any):
        observation, reward, terminated, truncated, info = self.env.step(action)
        self.actions.append(np.asarray(action, dtype=np.float32).ravel())
        self.observations.append(observation)
        self.infos.append(info)
        return observation, reward, terminated, truncated, info


def play(env: gymnasium.Env, policy: Any, plan: EpisodePlan, trajectory_id: str, *, label: str = "",
         sample: int = 0) -> Trajectory:
    """Play ``plan`` with ``policy`` (``sample`` > 0 gives the policy its own seed for this plan)."""
    recorder = env if isinstance(env, _Recorder) else _Recorder(env)
    seed = plan.seeds.policy if sample == 0 else int(np.random.SeedSequence([plan.seeds.policy, sample]).generate_state(1)[0])
    reset_policy(policy, seed)
    record = run_episode(recorder, as_policy(policy), plan)
    observations = np.stack([observation_vector(o) for o in recorder.observations[:-1]]).astype(np.float32)
    meta = {"policy": label, "env_seed": plan.seeds.env, "policy_seed": seed, "episode_index": plan.index,
            "scenario": record.meta["scenario"], "success": record.meta["success"], "return": record.meta["return"]}
    horizon = int(getattr(env.spec, "max_episode_steps", 0) or 0)
    return Trajectory(trajectory_id, observations, np.stack(recorder.actions), recorder.infos, meta, horizon)


def collect_pairs(world: str, first: Any, second: Any, plans: Sequence[EpisodePlan], *, labels: tuple[str, str] = ("a", "b"),
                  max_steps: int | None = None, env_kwargs: dict[str, Any] | None = None,
                  prefix: str = "") -> list[Pair]:
    """One pair per plan: ``first`` and ``second`` on the same scenario and world seed. Pass the same
    stochastic policy twice for two samples (the second plays under its own policy seed)."""
    env = _Recorder(make_env(world, max_steps=max_steps, env_kwargs=env_kwargs))
    try:
        pairs = []
        for plan in plans:
            key = f"{prefix}{plan.index}"
            a = play(env, first, plan, f"{key}/0", label=labels[0])
            b = play(env, second, plan, f"{key}/1", label=labels[1], sample=1 if second is first else 0)
            context = {"world": world, "episode_index": plan.index, "env_seed": plan.seeds.env,
                       "scenario": a.meta["scenario"], "pair_id": key}
            pairs.append(Pair(key, context, a, b))
        return pairs
    finally:
        env.close()


def samples(world: str, policy: Any, plan: EpisodePlan, n: int, *, max_steps: int | None = None,
            env: gymnasium.Env | None = None) -> list[Trajectory]:
    """``n`` trajectories of a stochastic ``policy`` on one plan, each under its own policy seed."""
    own = env is None
    env = _Recorder(make_env(world, max_steps=max_steps)) if env is None else env
    try:
        return [play(env, policy, plan, f"{plan.index}/{k}", sample=k + 1) for k in range(n)]
    finally:
        if own:
            env.close()


class GaussianPolicy:
    """A stochastic version of a deterministic model: ``model(x) + sigma · N(0, I)``, seeded per episode."""

    def __init__(self, model: Any, sigma: float):
        self.model, self.sigma = model, float(sigma)
        self.rng = np.random.default_rng(0)

    def reset(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, observation: Any, info: dict[str, Any]) -> np.ndarray:
        mean = np.asarray(self.model(observation_vector(observation)), dtype=np.float64).ravel()
        return mean + self.sigma * self.rng.standard_normal(mean.shape)


def perturbed(model: Any, scale: float, seed: int = 0) -> Any:
    """A copy of ``model`` with θ moved by ``scale`` · std(θ) · N(0, 1) (a worse sibling to compare against)."""
    copy = model.copy()
    rng = np.random.default_rng(seed)
    copy.theta[:] += (scale * float(np.std(copy.theta)) * rng.standard_normal(copy.theta.shape)).astype(copy.theta.dtype)
    return copy


# -- the Parquet preference dataset ----------------------------------------------------------------


def verdict_row(pair: Pair, judged: JudgedPair, judge_name: str) -> dict[str, Any]:
    """One dataset row: context, both ids and policies, the combined verdict and both raw verdicts."""
    row = {"pair_id": pair.id, "digest": pair.digest(), "world": pair.context["world"], "episode_index": pair.context["episode_index"],
           "env_seed": pair.context["env_seed"], "scenario": json.dumps(pair.context["scenario"], sort_keys=True),
           "first_id": pair.first.id, "second_id": pair.second.id, "first_policy": pair.first.meta.get("policy", ""),
           "second_policy": pair.second.meta.get("policy", ""), "judge": judge_name, "flipped": judged.flipped}
    for prefix, verdict in (("", judged.verdict), ("forward_", judged.forward), ("backward_", judged.backward)):
        row.update({f"{prefix}choice": verdict.choice, f"{prefix}p_first": verdict.p_first, f"{prefix}reason": verdict.reason})
    return row


def trajectory_row(trajectory: Trajectory) -> dict[str, Any]:
    meta = {k: v for k, v in trajectory.meta.items() if k != "scenario"}
    return {"id": trajectory.id, "length": trajectory.length, "horizon": trajectory.horizon,
            "observation_size": trajectory.observations.shape[1], "action_size": trajectory.actions.shape[1],
            "observations": trajectory.observations.ravel().tolist(), "actions": trajectory.actions.ravel().tolist(),
            "meta": json.dumps(meta, sort_keys=True, default=float)}


def write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with atomic_path(path) as tmp:
        pq.write_table(pa.Table.from_pylist(rows), tmp)


def read_rows(path: Path, what: str) -> list[dict[str, Any]]:
    from tutelage.data.parquet import read_table

    if not Path(path).is_file():
        raise DataError(f"{path}: {what} not found")
    return read_table(path).to_pylist()


def judge_dataset(judge: Any, pairs: Sequence[Pair], out: str | Path, *, judge_name: str = "", chunk: int = 32,
                  on_chunk: Callable[[int], None] | None = None) -> Path:
    """Judge ``pairs`` (both orders) into ``out/preferences.parquet`` and ``out/trajectories.parquet``.

    Chunks already judged (a part file of the same pairs exists) are kept, so a killed run resumes with
    identical data.
    """
    out = Path(out)
    name = judge_name or str(getattr(judge, "name", type(judge).__name__))
    rows: list[dict[str, Any]] = []
    for number, start in enumerate(range(0, len(pairs), chunk)):
        part = out / PARTS / f"part-{number:05d}.parquet"
        batch = pairs[start:start + chunk]
        if part.is_file() and [r["digest"] for r in read_rows(part, "part")] == [p.digest() for p in batch]:
            rows += read_rows(part, "part")
        else:
            judged = judge_pairs(judge, [p.context for p in batch], [(p.first, p.second) for p in batch])
            chunk_rows = [verdict_row(p, j, name) for p, j in zip(batch, judged)]
            write_parquet(chunk_rows, part)
            rows += chunk_rows
        if on_chunk is not None:
            on_chunk(len(batch))
    write_parquet([trajectory_row(t) for p in pairs for t in (p.first, p.second)], out / TRAJECTORIES)
    write_parquet(rows, out / PREFERENCES)
    return out / PREFERENCES


def load_dataset(root: str | Path) -> tuple[list[dict[str, Any]], dict[str, Trajectory]]:
    """The preference rows and the trajectories (without infos) of a dataset folder."""
    root = Path(root)
    rows = read_rows(root / PREFERENCES, "preference dataset")
    trajectories = {}
    for row in read_rows(root / TRAJECTORIES, "trajectories"):
        t, d, k = row["length"], row["observation_size"], row["action_size"]
        trajectories[row["id"]] = Trajectory(row["id"], np.asarray(row["observations"], np.float32).reshape(t, d),
                                             np.asarray(row["actions"], np.float32).reshape(t, k), None,
                                             json.loads(row["meta"]), row["horizon"])
    missing = {r["first_id"] for r in rows} | {r["second_id"] for r in rows}
    if missing - trajectories.keys():
        raise DataError(f"{root / TRAJECTORIES}: field 'id' lacks {sorted(missing - trajectories.keys())[:3]}")
    return rows, trajectories
