"""Evaluate a policy on held-out scenarios of a world.

>>> result = evaluate(student, "tutelage/Driving-v0", episodes=200, edge_case_fraction=0.2)
>>> result.success_rate, result.collisions_per_km, result.by_edge_case["ice"]["success_rate"]

Held-out episodes take their seeds from a range disjoint from every training
seed (see :func:`tutelage.methods.episodes.episode_seed`).
"""
from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium
import numpy as np

from tutelage.methods.episodes import plan_episodes, run_episode
from tutelage.methods.policy import as_policy, policy_name, reset_policy
from tutelage.methods.progress import progress


def summarize(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Episodes, success rate, collision rate, collisions per km (None without distance) and mean return."""
    n = len(records)
    km = sum(r["distance_m"] for r in records) / 1000.0
    hits = sum(r["collisions"] for r in records)
    return {
        "episodes": n,
        "success_rate": float(np.mean([r["success"] for r in records])) if n else float("nan"),
        "collision_rate": float(np.mean([r["collision"] for r in records])) if n else float("nan"),
        "collisions_per_km": hits / km if km > 0 else None,
        "mean_return": float(np.mean([r["return"] for r in records])) if n else float("nan"),
    }


@dataclass
class EvalResult:
    """Per-episode records of one evaluation, with the summaries a report needs."""

    world_id: str
    policy: str
    episodes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, Any]:
        return summarize(self.episodes)

    @property
    def success_rate(self) -> float:
        return self.summary["success_rate"]

    @property
    def collision_rate(self) -> float:
        return self.summary["collision_rate"]

    @property
    def collisions_per_km(self) -> float | None:
        return self.summary["collisions_per_km"]

    @property
    def mean_return(self) -> float:
        return self.summary["mean_return"]

    @property
    def by_edge_case(self) -> dict[str, dict[str, Any]]:
        """Summary per named edge case asked for (a combination like ``"ice + night"`` is one case)."""
        names = sorted({r["edge_case"] for r in self.episodes if r["edge_case"]})
        out = {}
        for name in names:
            s = summarize([r for r in self.episodes if r["edge_case"] == name])
            out[name] = {k: s[k] for k in ("episodes", "success_rate", "collisions_per_km")}
        return out

    @property
    def edge_case_share(self) -> float:
        """Share of episodes that had at least one named edge case."""
        return float(np.mean([bool(r["edge_case"]) for r in self.episodes])) if self.episodes else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "world": self.world_id,
            "policy": self.policy,
            **self.summary,
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
) -> EvalResult:
    """Run ``policy`` for ``episodes`` held-out episodes of ``world_id`` and summarize.

    ``policy`` is a callable ``f(observation, info)``, a teacher (``.act``) or a
    model (``model(observation)``). A share ``edge_case_fraction`` of the
    episodes gets a named edge case (each name equally often); ``scenarios``
    replays given scenarios instead; ``sampler`` replaces the world's default
    scenario ranges. ``max_steps`` caps an episode's length.
    """
    plan = plan_episodes(
        world_id, episodes, seed=seed, split="held-out",
        edge_case_fraction=edge_case_fraction, scenarios=scenarios, sampler=sampler,
    )
    result = EvalResult(world_id, policy_name(policy))
    act = as_policy(policy, observation_keys)
    with contextlib.closing(gymnasium.make(world_id, **(env_kwargs or {}))) as env, \
            progress(f"evaluate {result.policy}", len(plan), quiet) as advance:
        for planned in plan:
            reset_policy(policy)
            result.episodes.append(run_episode(env, act, planned, max_steps=max_steps))
            advance()
    return result
