"""DAgger (Ross, Gordon & Bagnell 2011): the student drives, the teacher labels.

Round 0 is usually the teacher driving alone (β = 1, plain behavior cloning
data). In each later round the executed action is the teacher's with
probability β (drawn per step) and the student's otherwise; the teacher labels
every visited state, the labels aggregate across rounds, and the student is
retrained on the aggregate after each round. β follows a schedule: by
default it falls linearly to 0 over the first half of the rounds, so the
student drives alone in the second half (those rounds are what make it
robust; see benchmarks/RESULTS.md). The last student is returned, or with
``keep="best"`` the one that did best driving alone (Ross et al.
return the best of the round policies, too).
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tutelage.errors import SpecError
from tutelage.methods.bc import as_targets, train_supervised
from tutelage.methods.evaluate import summarize
from tutelage.methods.lineage import Derivation, parent_id, teacher_id
from tutelage.progress import progress
from tutelage.methods.schedules import BetaSchedule, LinearBetaSchedule
from tutelage.rollouts.mixture import Collected, collect, collect_on_workers
from tutelage.rollouts.plan import EpisodePlanner
from tutelage.rollouts.rollout import make_env, world_metrics
from tutelage.sim.scenarios import sampler_for


class DAggerBuffer:
    """Observations and teacher labels aggregated across rounds (never replaced)."""

    def __init__(self) -> None:
        self._X: list[np.ndarray] = []
        self._Y: list[np.ndarray] = []
        self._rounds: list[np.ndarray] = []

    def add(self, X: np.ndarray, Y: np.ndarray, round_num: int) -> None:
        """Append one round's samples."""
        if len(X) != len(Y):
            raise ValueError(f"{len(X)} observations but {len(Y)} labels")
        self._X.append(np.asarray(X, dtype=np.float32))
        self._Y.append(np.asarray(Y))
        self._rounds.append(np.full(len(X), round_num, dtype=np.int32))

    def __len__(self) -> int:
        return sum(len(x) for x in self._X)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All samples so far, oldest first: ``(X, Y)``."""
        if not self._X:
            raise ValueError("the DAgger buffer is empty")
        return np.concatenate(self._X), np.concatenate(self._Y)

    @property
    def rounds(self) -> np.ndarray:
        """The round each sample was collected in."""
        return np.concatenate(self._rounds) if self._rounds else np.zeros(0, np.int32)


def collect_demonstrations(
    world_id: str,
    teacher: Any,
    episodes: int,
    *,
    seed: int = 0,
    edge_case_fraction: float = 0.2,
    observation_keys: Sequence[str] | None = None,
    max_steps: int | None = None,
    env_kwargs: dict[str, Any] | None = None,
    sampler: Any = None,
    quiet: bool = True,
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """The teacher driving alone on training scenarios: data for behavior cloning."""
    plan = EpisodePlanner(sampler_for(world_id, sampler), edge_case_fraction=edge_case_fraction).plans(seed, episodes)
    with contextlib.closing(make_env(world_id, max_steps=max_steps, env_kwargs=env_kwargs)) as env, \
            progress("demonstrations", len(plan), quiet) as advance:
        return collect(env, teacher, plan, observation_keys=observation_keys, on_episode=advance)


def dagger(
    world_id: str,
    teacher: Any,
    student: Any,
    *,
    rounds: int = 5,
    episodes_per_round: int = 10,
    beta_schedule: BetaSchedule | None = None,
    seed: int = 0,
    edge_case_fraction: float = 0.2,
    observation_keys: Sequence[str] | None = None,
    max_steps: int | None = None,
    env_kwargs: dict[str, Any] | None = None,
    sampler: Any = None,
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 1e-3,
    loss: Any = None,
    standardize: bool = False,
    quiet: bool = False,
    on_round: Callable[[int, Any, dict[str, Any]], None] | None = None,
    buffer: DAggerBuffer | None = None,
    callbacks: Any = (),
    label_every: int = 1,
    labels_per_episode: int | None = None,
    keep: str = "last",
    workers: int = 1,
    backend: str = "process",
    plugins: Sequence[str] = (),
) -> tuple[Any, Derivation]:
    """Train ``student`` by DAgger from ``teacher`` in ``world_id``; return ``(student, derivation)``.

    ``derivation.history`` holds one dict per round: ``round``, ``beta``,
    ``episodes``, ``steps``, ``teacher_share``, ``samples`` (aggregate size),
    ``loss`` and the rollouts' ``success_rate``, ``mean_return`` and the world's metrics.
    With ``standardize`` the student trains on standardized inputs folded
    into its first layer. ``on_round(round, student, record)`` is called after
    each round's training.
    Samples aggregate in ``buffer`` (a fresh :class:`DAggerBuffer` unless one
    is passed in, e.g. to inspect it afterwards); ``label_every`` keeps every
    k-th visited state (the student still acts on all) and ``labels_per_episode``
    at most that many of an episode's labelled states, evenly spaced (a failed
    episode runs to the step limit; capped, it cannot swamp the aggregate).
    ``keep="best"`` returns, of the students that drove alone (β = 0 rounds, and
    the last student on one more round of training episodes), the one with the
    highest success rate, then mean return, then the later round
    (``derivation.metrics["kept_round"]``: the round that trained it).
    Training episodes use training seeds, never the held-out ones, and
    scenarios from ``sampler`` (default: the world's own ranges and edge
    cases). Each round's episodes
    play on ``workers`` processes or Ray tasks (``backend``; teacher and student
    are pickled to them, ``plugins`` are the local plugin files their hosts
    load): the result is the same for any count.
    """
    if keep not in ("last", "best"):
        raise SpecError(f"keep must be 'last' or 'best', got {keep!r}")
    cap = 1 if labels_per_episode is None else labels_per_episode
    if min(rounds, episodes_per_round, label_every, workers, cap) < 1:
        raise SpecError(f"rounds, episodes_per_round, label_every, labels_per_episode and workers must be at least 1, "
                        f"got {rounds}, {episodes_per_round}, {label_every}, {labels_per_episode} and {workers}")
    schedule = beta_schedule if beta_schedule is not None else LinearBetaSchedule(max(1, rounds // 2))
    derivation = Derivation(
        "dagger", parent=parent_id(student, teacher), teacher=teacher_id(teacher),
        dataset=f"dagger:{world_id}:seed={seed}:{rounds}x{episodes_per_round}",
    )
    buffer = buffer if buffer is not None else DAggerBuffer()
    planner = EpisodePlanner(sampler_for(world_id, sampler), edge_case_fraction=edge_case_fraction)
    total = (rounds + (keep == "best")) * episodes_per_round
    with contextlib.closing(make_env(world_id, max_steps=max_steps, env_kwargs=env_kwargs)) as env, \
            progress("DAgger", total, quiet) as advance:
        metrics = world_metrics(env)

        def play(round_num: int, beta: float) -> Collected:
            plan = planner.plans(seed, episodes_per_round, start=round_num * episodes_per_round)
            mixture = {"beta": beta, "student": student, "seed": (seed, round_num), "on_episode": advance,
                       "observation_keys": observation_keys, "label_every": label_every,
                       "labels_per_episode": labels_per_episode}
            if workers > 1 or backend != "process":
                return collect_on_workers(world_id, teacher, plan, workers=workers, backend=backend,
                                          max_steps=max_steps, env_kwargs=env_kwargs, plugins=plugins, **mixture)
            return collect(env, teacher, plan, **mixture)

        alone: list[tuple[float, float, int, np.ndarray]] = []  # (success rate, mean return, round that trained it, θ)
        for round_num in range(rounds):
            beta = float(schedule(round_num))
            X, Y, records = play(round_num, beta)
            rollouts = summarize(records, metrics)
            if keep == "best" and beta == 0.0 and round_num > 0:
                alone.append((rollouts["success_rate"], rollouts["mean_return"], round_num - 1, student.theta.copy()))
            buffer.add(X, Y, round_num)
            data_X, data_Y = buffer.arrays()
            history = train_supervised(
                student, data_X, as_targets(data_Y), loss=loss, epochs=epochs,
                batch_size=batch_size, lr=lr, seed=seed + round_num, quiet=True, standardize=standardize,
                warm_start=round_num > 0 or parent_id(student) is not None, callbacks=callbacks,
            )
            steps = sum(r["length"] for r in records)
            record = {
                "round": round_num, "beta": beta, "episodes": len(records), "steps": steps,
                "teacher_share": sum(r["teacher_steps"] for r in records) / max(steps, 1),
                "samples": len(buffer), "loss": float(history.loss[-1]) if history.epochs else None,
                **{k: v for k, v in rollouts.items() if k not in ("episodes", "success_interval")},
            }
            derivation.history.append(record)
            if on_round is not None:
                on_round(round_num, student, record)
        if keep == "best":
            scored = summarize(play(rounds, 0.0)[2], metrics)
            alone.append((scored["success_rate"], scored["mean_return"], rounds - 1, student.theta.copy()))
            *_, kept, theta = max(alone, key=lambda c: c[:3])
            student.theta[:] = theta
            derivation.metrics["kept_round"] = kept
    derivation.metrics["samples"] = len(buffer)
    return student, derivation
