"""Episodes: seeds, scenario plans and one rollout, shared by evaluation and DAgger.

Training episodes and held-out (evaluation) episodes draw their seeds from
disjoint ranges: training seeds (like ``tutelage generate``'s) are 32-bit,
held-out seeds lie in [2**32, 2**33), so no evaluation episode was ever seen
in training or in a generated dataset.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tutelage.errors import SpecError
from tutelage.sim.scenarios import sampler_for

SPLITS = {"train": 0, "held-out": 1}


def episode_seed(seed: int, index: int, split: str = "train") -> int:
    """The seed of episode ``index`` of a run seeded ``seed``; held-out seeds never equal training ones."""
    if split not in SPLITS:
        raise SpecError(f"unknown split {split!r} (available: {', '.join(SPLITS)})")
    mixed = int(np.random.SeedSequence([int(seed), int(index), SPLITS[split]]).generate_state(1, np.uint32)[0])
    return mixed + (SPLITS[split] << 32)


@dataclass(frozen=True)
class PlannedEpisode:
    """One episode to run: its seed and the scenario passed to ``env.reset``."""

    index: int
    seed: int
    scenario: dict[str, Any] | None
    edge_case: str | None


def plan_episodes(
    world_id: str,
    episodes: int,
    *,
    seed: int = 0,
    split: str = "train",
    start: int = 0,
    edge_case_fraction: float = 0.0,
    scenarios: Sequence[dict[str, Any]] | None = None,
    sampler: Any = None,
) -> list[PlannedEpisode]:
    """Seeds and scenarios for episodes ``start .. start + episodes - 1``.

    The first ``round(edge_case_fraction * episodes)`` episodes each get a named
    edge case, cycling through the world's edge cases so each is equally
    represented; the rest are ordinary randomized scenarios. Given
    ``scenarios`` (e.g. replayed from a failure catalogue) those are used as
    they are, one episode each. ``sampler`` (a :class:`~tutelage.sim.scenarios.ScenarioSampler`)
    replaces the world's default ranges and edge cases.
    """
    if scenarios is not None:
        return [
            PlannedEpisode(start + i, episode_seed(seed, start + i, split), dict(s), _first_edge_case(s))
            for i, s in enumerate(scenarios)
        ]
    if episodes < 1:
        raise SpecError(f"episodes must be at least 1, got {episodes}")
    if not 0.0 <= edge_case_fraction <= 1.0:
        raise SpecError(f"edge_case_fraction must lie in [0, 1], got {edge_case_fraction}")
    sampler = sampler_for(world_id, sampler)
    names = list(sampler.edge_case_names) if sampler is not None else []
    n_edge = int(round(edge_case_fraction * episodes)) if names else 0
    plan = []
    for i in range(episodes):
        s = episode_seed(seed, start + i, split)
        edge = names[i % len(names)] if i < n_edge else None
        scenario = sampler.sample(np.random.default_rng(s), edge_case=edge) if sampler is not None else None
        plan.append(PlannedEpisode(start + i, s, scenario, edge))
    return plan


def _first_edge_case(scenario: dict[str, Any]) -> str | None:
    names = scenario.get("edge_cases") or []
    return " + ".join(names) if names else None


def run_episode(
    env: Any,
    act: Callable[[Any, dict], Any],
    planned: PlannedEpisode,
    *,
    max_steps: int | None = None,
) -> dict[str, Any]:
    """Run one episode with ``act(observation, info) -> action``; return its record.

    Success is the world's ``info["is_success"]`` on any step. The record holds
    ``seed``, ``edge_case`` (the named case asked for, or None), ``edge_cases``
    (its parts), ``success``, ``collision``,
    ``collisions`` (count of steps that began a collision), ``distance_m``,
    ``return`` and ``steps``.
    """
    options = {"scenario": planned.scenario} if planned.scenario is not None else None
    observation, info = env.reset(seed=planned.seed, options=options)
    edge_cases = list((info.get("scenario") or {}).get("edge_cases") or ([] if planned.edge_case is None else [planned.edge_case]))
    total, steps, collisions, colliding, success = 0.0, 0, 0, False, False
    done = False
    while not done and (max_steps is None or steps < max_steps):
        action = act(observation, info)
        observation, reward, terminated, truncated, info = env.step(_fit_action(env, action))
        total += float(reward)
        steps += 1
        hit = bool(info.get("collision", False))
        collisions += int(hit and not colliding)
        colliding = hit
        success = success or bool(info.get("is_success", False))
        done = terminated or truncated
    return {
        "seed": planned.seed,
        "edge_case": planned.edge_case,
        "edge_cases": edge_cases,
        "success": success,
        "collision": collisions > 0,
        "collisions": collisions,
        "distance_m": float(info.get("distance_m", 0.0)),
        "return": total,
        "steps": steps,
    }


def _fit_action(env: Any, action: Any) -> Any:
    """Clip continuous actions into the action space; cast discrete ones to int."""
    space = env.action_space
    if hasattr(space, "low") and hasattr(space, "high"):
        return np.clip(np.asarray(action, dtype=space.dtype).reshape(space.shape), space.low, space.high)
    if hasattr(space, "n"):
        a = np.asarray(action)
        return int(np.argmax(a)) if a.ndim and a.size > 1 else int(a)
    return action
