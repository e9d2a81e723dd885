"""Episode plans: seeds and scenarios from the run seed, the split and the episode index alone.

Training and held-out episodes take their seeds from disjoint ranges: a
training episode's reset seed is 32-bit, a held-out one lies in
[2**32, 2**33), so no evaluation episode was ever seen in training or in a
generated dataset.

Edge cases are spread evenly: with fraction ``f`` episode ``i`` plays a named
edge case when ``floor((i + 1) f) > floor(i f)`` (exactly ``floor(n f)`` of the
first ``n``), cycling through the names so that each is equally represented.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from tutelage.errors import SpecError

SPLITS = {"train": 0, "held-out": 1}


@dataclass(frozen=True)
class EpisodeSeeds:
    """The seeds of one episode: the world's reset, the policy (teacher noise, sampling), the scenario draw."""

    env: int
    policy: int
    scenario: int


def episode_seeds(run_seed: int, index: int, split: str = "train") -> EpisodeSeeds:
    """Seeds of episode ``index`` of a run, from ``SeedSequence([run_seed, split], spawn_key=(index,))``."""
    if split not in SPLITS:
        raise SpecError(f"unknown split {split!r} (available: {', '.join(SPLITS)})")
    if not isinstance(run_seed, (int, np.integer)) or run_seed < 0:
        raise SpecError(f"seed: must be a non-negative integer, got {run_seed!r}")
    code = SPLITS[split]
    state = np.random.SeedSequence([int(run_seed), code], spawn_key=(int(index),)).generate_state(3, np.uint32)
    return EpisodeSeeds(int(state[0]) + (code << 32), int(state[1]), int(state[2]))


@dataclass(frozen=True)
class EpisodePlan:
    """What one episode plays: its index, seeds and scenario (None for worlds without scenarios)."""

    index: int
    seeds: EpisodeSeeds
    scenario: dict[str, Any] | None = None
    edge_case: str = ""

    def reset_options(self) -> dict[str, Any] | None:
        return {"scenario": self.scenario} if self.scenario is not None else None


class EpisodePlanner:
    """Chooses each episode's seeds and scenario: from a sampler (with edge cases) or a catalogue.

    ``sampler`` is a :class:`~tutelage.sim.scenarios.ScenarioSampler` (None for a
    world without scenarios: plain seeds, and no edge cases whatever the
    fraction); ``catalogue`` replays ``{"scenario": ..., "seed": ...,
    "policy_seed": ...}`` entries (seeds optional: the planner's own seeds
    otherwise). ``edge_cases`` replaces the sampler's in-distribution names
    (e.g. its ``held_out_names``, for evaluation).
    """

    def __init__(self, sampler: Any = None, *, edge_case_fraction: float = 0.0, split: str = "train",
                 catalogue: Sequence[dict[str, Any]] | None = None, where: str = "edge_case_fraction",
                 edge_cases: Sequence[str] | None = None):
        if not (isinstance(edge_case_fraction, (int, float)) and 0.0 <= edge_case_fraction <= 1.0):
            raise SpecError(f"{where}: must lie in [0, 1], got {edge_case_fraction!r}")
        if split not in SPLITS:
            raise SpecError(f"unknown split {split!r} (available: {', '.join(SPLITS)})")
        self.sampler, self.split, self.catalogue = sampler, split, list(catalogue or [])
        names = list(edge_cases if edge_cases is not None else sampler.edge_case_names) if sampler is not None else []
        if self.catalogue and sampler is None:
            raise SpecError("scenarios: the world declares no scenarios to replay")
        self.edge_case_fraction, self.edge_case_names = float(edge_case_fraction), names

    def edge_case(self, index: int) -> str:
        """The named edge case of episode ``index`` ("" for an ordinary episode)."""
        f = self.edge_case_fraction
        if not self.edge_case_names or math.floor((index + 1) * f) <= math.floor(index * f):
            return ""
        return self.edge_case_names[math.floor(index * f) % len(self.edge_case_names)]

    def plan(self, run_seed: int, index: int) -> EpisodePlan:
        seeds = episode_seeds(run_seed, index, self.split)
        if self.catalogue:  # replay: the scenario, with the seeds it was found under when they are known
            entry = self.catalogue[index % len(self.catalogue)]
            if "seed" in entry:
                seeds = replace(seeds, env=int(entry["seed"]), policy=int(entry.get("policy_seed", seeds.policy)))
            scenario = dict(entry["scenario"])
            edge_case = entry.get("edge_case") or " + ".join(scenario.get("edge_cases") or [])
            return EpisodePlan(index, seeds, scenario, str(edge_case))
        if self.sampler is None:
            return EpisodePlan(index, seeds)
        edge_case = self.edge_case(index)
        scenario = self.sampler.sample(np.random.default_rng(seeds.scenario), edge_case=edge_case or None)
        return EpisodePlan(index, seeds, scenario, edge_case)

    def plans(self, run_seed: int, count: int, start: int = 0) -> list[EpisodePlan]:
        """Plans of episodes ``start .. start + count - 1``."""
        if count < 1:
            raise SpecError(f"episodes: must be at least 1, got {count}")
        return [self.plan(run_seed, start + i) for i in range(count)]
