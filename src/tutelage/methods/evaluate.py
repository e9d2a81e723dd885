"""Evaluate a policy on held-out scenarios of a world.

>>> result = evaluate(student, "tutelage/Driving-v0", episodes=200, edge_case_fraction=0.2)
>>> result.success_rate, result.summary["collisions_per_km"], result.by_edge_case["ice"]["success_rate"]

Held-out episodes take their seeds from a range disjoint from every training
seed (see :func:`tutelage.rollouts.plan.episode_seeds`). Besides success and
return, the summary holds every metric the world declares.
"""
from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tutelage.progress import progress
from tutelage.rollouts.plan import EpisodePlanner
from tutelage.errors import SpecError
from tutelage.rollouts.generate import play_episodes
from tutelage.rollouts.policy import PolicySpec, as_policy, policy_name, reset_policy
from tutelage.rollouts.rollout import make_env, run_episode, world_metrics
from tutelage.sim.metrics import Metric, aggregate
from tutelage.sim.scenarios import sampler_for, world_class
from tutelage.stats import wilson


def summarize(records: Sequence[dict[str, Any]], metrics: Sequence[Metric] = ()) -> dict[str, Any]:
    """Episodes, success rate (with its Wilson interval), mean return and the world's metrics."""
    n = len(records)
    successes = sum(bool(r["success"]) for r in records)
    interval = wilson(successes, n)
    return {
        "episodes": n,
        "success_rate": successes / n if n else float("nan"),
        "success_interval": [interval.low, interval.high],
        "mean_return": float(np.mean([r["return"] for r in records])) if n else float("nan"),
        **aggregate(metrics, records),
    }


@dataclass
class EvalResult:
    """Per-episode records of one evaluation, with the summaries a report needs."""

    world_id: str
    policy: str
    episodes: list[dict[str, Any]] = field(default_factory=list)
    metrics: tuple[Metric, ...] = ()

    @property
    def summary(self) -> dict[str, Any]:
        return summarize(self.episodes, self.metrics)

    @property
    def success_rate(self) -> float:
        return self.summary["success_rate"]

    @property
    def mean_return(self) -> float:
        return self.summary["mean_return"]

    @property
    def by_edge_case(self) -> dict[str, dict[str, Any]]:
        """Summary per named edge case asked for (a combination like ``"ice + night"`` is one case)."""
        names = sorted({r["edge_case"] for r in self.episodes if r["edge_case"]})
        return {name: summarize([r for r in self.episodes if r["edge_case"] == name], self.metrics) for name in names}

    @property
    def edge_case_share(self) -> float:
        """Share of episodes that had a named edge case."""
        return float(np.mean([bool(r["edge_case"]) for r in self.episodes])) if self.episodes else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "world": self.world_id,
            "policy": self.policy,
            **self.summary,
            "metrics": [m.as_dict() for m in self.metrics],
            "edge_case_share": self.edge_case_share,
            "by_edge_case": self.by_edge_case,
            "per_episode": list(self.episodes),
        }


def evaluate(
    policy: Any,
    world_id: str,
    *,
    episodes: int = 200,
    seed: int = 0,
    edge_case_fraction: float = 0.2,
    scenarios: Sequence[dict[str, Any]] | None = None,
    observation_keys: Sequence[str] | None = None,
    max_steps: int | None = None,
    env_kwargs: dict[str, Any] | None = None,
    sampler: Any = None,
    quiet: bool = False,
    on_episode_end: Any = None,
    workers: int = 1,
    backend: str = "process",
    edge_cases: Sequence[str] | None = None,
) -> EvalResult:
    """Run ``policy`` for ``episodes`` held-out episodes of ``world_id`` and summarize.

    ``policy`` is a callable ``f(observation, info)``, a teacher (``.act``) or a
    model (``model(observation)``). A share ``edge_case_fraction`` of the
    episodes gets a named edge case (each name equally often); ``scenarios``
    replays given scenarios instead; ``sampler`` replaces the world's default
    scenario ranges; ``edge_cases`` names the edge cases to draw from instead
    of its in-distribution ones (``sampler.held_out_names`` for the held-out
    evaluation). ``max_steps`` caps an episode's length.
    ``on_episode_end(world=, episode_index=, info=)`` is called after each
    episode (the plugin host's ``tutelage_episode_end`` notifier).

    A :class:`~tutelage.rollouts.policy.PolicySpec` (a teacher name or model
    file resolved with ``resolve_policy``) plays on ``workers`` processes or
    Ray tasks (``backend``), with the same records whatever the worker count;
    there the workers' plugin hosts fire ``tutelage_episode_end``.
    """
    planner = EpisodePlanner(sampler_for(world_id, sampler), edge_case_fraction=0.0 if scenarios else edge_case_fraction,
                             split="held-out", catalogue=[{"scenario": s} for s in scenarios or []],
                             edge_cases=edge_cases)
    plans = planner.plans(seed, len(scenarios) if scenarios else episodes)
    if isinstance(policy, PolicySpec):
        if env_kwargs or observation_keys:
            raise SpecError("evaluate: env_kwargs and observation_keys need an in-process policy object")
        records = play_episodes(world_id, policy, plans, workers=workers, backend=backend, max_steps=max_steps,
                                description=f"evaluate {policy.name}", quiet=quiet)
        return EvalResult(world_id, policy.name, records, tuple(getattr(world_class(world_id), "metrics", ()) or ()))
    if workers != 1:
        raise SpecError("evaluate: workers > 1 needs a PolicySpec (a teacher name or model file), not a Python object")
    act = as_policy(policy, observation_keys)
    with contextlib.closing(make_env(world_id, max_steps=max_steps, env_kwargs=env_kwargs)) as env:
        result = EvalResult(world_id, policy_name(policy), metrics=world_metrics(env))
        with progress(f"evaluate {result.policy}", len(plans), quiet) as advance:
            for plan in plans:
                reset_policy(policy, plan.seeds.policy)
                record = run_episode(env, act, plan).meta
                if on_episode_end is not None:
                    on_episode_end(world=world_id, episode_index=plan.index, info=record)
                result.episodes.append(record)
                advance()
    return result
