"""Failure search: find scenarios where a policy fails, and keep them in a catalogue to replay.

The search moves in the hull of the sampler's ranges (the default ranges and
every edge case's). Its first round is random search (draws from the
sampler's defaults, from random named edge cases, and uniform over the hull,
a third each). Each later round refines the worst episodes so far (failures
first, then the closest calls by the world's margin metric): a child keeps a parent's
reset seed, policy seed and seed-like parameters (a layout seed), moves its
numeric parameters by a Gaussian step as wide as the elites' spread (the
cross-entropy estimate) and redraws categorical ones from the elites'
smoothed frequencies. Failures of a policy often hinge on one layout and one
moment, which a fresh seed would lose; keeping them is what makes this a local
search. An episode fails when it ends without success or with any failure
flag the world declares (a metric reduced with ``any`` that is lower-is-better,
e.g. a collision); near misses rank by the world's margin metric (e.g. the
least time to collision). Failures go to a JSON catalogue (written atomically,
:mod:`tutelage.sim.catalogue`) that ``tutelage generate --scenarios`` replays
exactly, seeds included.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from tutelage.errors import SpecError
from tutelage.rollouts.generate import play_episodes
from tutelage.rollouts.plan import EpisodePlan, EpisodeSeeds, episode_seeds
from tutelage.rollouts.policy import resolve_policy
from tutelage.rollouts.rollout import check_world
from tutelage.sim.catalogue import Catalogue
from tutelage.sim.metrics import Metric
from tutelage.sim.scenarios import sampler_for, world_class

MIN_STD = 0.05  # in units of a parameter's range: keeps every round exploring
SEED_LIKE = 10_000  # an integer parameter with more values than this is a seed, not a quantity
SMOOTHING = 0.1  # added to every category's count


class SearchSpace:
    """Numeric ranges and categorical options of a sampler's parameters, over defaults and edge cases.

    Integer parameters spanning more than ``SEED_LIKE`` values (``layout_seed``)
    are seeds: nothing is smooth in them, so refinement keeps a parent's.
    """

    def __init__(self, sampler: Any):
        self.sampler = sampler
        self.numeric: dict[str, tuple[float, float, bool]] = {}
        self.categorical: dict[str, list[Any]] = {}
        self.fixed: dict[str, Any] = {}
        self.seeds: dict[str, tuple[int, int]] = {}
        for name in sampler.parameter_names:
            distributions = [sampler.parameters[name], *(case[name] for case in sampler.edge_cases.values() if name in case)]
            values = [value for d in distributions for value in d.values()]
            options = list(dict.fromkeys(values))
            if len(options) == 1:
                self.fixed[name] = options[0]
            elif any(d.choices is not None for d in distributions) or any(isinstance(v, (bool, str)) for v in values):
                self.categorical[name] = options
            elif all(isinstance(v, int) for v in values) and max(values) - min(values) > SEED_LIKE:
                self.seeds[name] = (min(values), max(values))
            else:
                self.numeric[name] = (min(values), max(values), all(isinstance(v, int) for v in values))

    def random(self, rng: np.random.Generator) -> tuple[dict[str, Any], str]:
        """Random search: a third of the draws from the sampler's defaults, a third from a random
        named edge case, a third uniform over the whole space (combinations no edge case names)."""
        names = list(self.sampler.edge_case_names)
        kind = rng.random()
        if kind < 1 / 3 or (kind < 2 / 3 and not names):
            return self.sampler.sample(rng), ""
        if kind < 2 / 3:
            edge_case = names[int(rng.integers(len(names)))]
            return self.sampler.sample(rng, edge_case=edge_case), edge_case
        return self.uniform(rng), ""

    def fit(self, scenarios: list[dict[str, Any]]) -> dict[str, Any]:
        """Step sizes from the elites: spread (in units of the range) per numeric parameter,
        smoothed frequencies per categorical one."""
        model: dict[str, Any] = {}
        for name, (low, high, _) in self.numeric.items():
            unit = np.array([(s[name] - low) / (high - low) for s in scenarios])
            model[name] = max(float(unit.std()), MIN_STD)
        for name, options in self.categorical.items():
            counts = np.array([sum(s[name] == o for s in scenarios) for o in options], dtype=float) + SMOOTHING
            model[name] = counts / counts.sum()
        return model

    def uniform(self, rng: np.random.Generator) -> dict[str, Any]:
        """A scenario drawn uniformly over the whole space."""
        scenario: dict[str, Any] = {}
        for name in self.numeric:
            scenario[name] = self._value(name, rng.random())
        for name, options in self.categorical.items():
            scenario[name] = options[int(rng.integers(len(options)))]
        for name, (low, high) in self.seeds.items():
            scenario[name] = int(rng.integers(low, high + 1))
        return self._complete(scenario)

    def refine(self, rng: np.random.Generator, parent: dict[str, Any], model: dict[str, Any]) -> dict[str, Any]:
        """A neighbour of ``parent``: numeric parameters moved by the elites' spread, categorical
        ones redrawn from the elites' frequencies, seeds kept."""
        scenario: dict[str, Any] = {name: parent[name] for name in self.seeds}
        for name, (low, high, _) in self.numeric.items():
            scenario[name] = self._value(name, (parent[name] - low) / (high - low) + rng.normal(0.0, model[name]))
        for name, options in self.categorical.items():
            scenario[name] = options[int(rng.choice(len(options), p=model[name]))]
        return self._complete(scenario)

    def _value(self, name: str, unit: float) -> Any:
        low, high, integer = self.numeric[name]
        value = low + float(np.clip(unit, 0.0, 1.0)) * (high - low)
        return int(round(value)) if integer else value

    def _complete(self, scenario: dict[str, Any]) -> dict[str, Any]:
        full = {"world": self.sampler.world, "edge_cases": [], **self.fixed, **scenario}
        return self.sampler.validate(full, where="failure search")


def failure_reasons(row: dict[str, Any], metrics: tuple[Metric, ...]) -> list[str]:
    """Why an episode (a row of the episodes table) failed: the world's failure flags that are set,
    or ``no_success``; empty when it did not fail."""
    reasons = [m.name for m in metrics if m.is_flag and not m.higher_is_better and row.get(m.name)]
    if row.get("success") is False and not reasons:
        reasons.append("no_success")
    return reasons


def search_failures(world: str, policy: str, host: Any, *, budget: int = 64, population: int = 16,
                    elite_fraction: float = 0.25, seed: int = 0, max_steps: int | None = None, workers: int = 1,
                    policy_options: dict[str, Any] | None = None) -> Catalogue:
    """Spend ``budget`` episodes searching for scenarios where ``policy`` fails in ``world``."""
    if budget < 1 or population < 2 or not 0 < elite_fraction <= 1:
        raise SpecError("failure search: needs --budget ≥ 1, --population ≥ 2 and 0 < elite fraction ≤ 1")
    check_world(world)
    sampler = sampler_for(world)
    if sampler is None:
        raise SpecError(f"WORLD: {world!r} has no scenario sampler to search")
    spec = resolve_policy(policy, world, host, policy_options)
    space = SearchSpace(sampler)
    rng = np.random.default_rng(seed)
    metrics: tuple[Metric, ...] = tuple(getattr(world_class(world), "metrics", ()) or ())
    margin = next((m.name for m in metrics if m.margin), None)
    evaluated: list[dict[str, Any]] = []
    rounds: list[dict[str, Any]] = []
    while len(evaluated) < budget:
        size = min(population, budget - len(evaluated))
        start = len(evaluated)
        if not evaluated:
            plans = [EpisodePlan(start + k, episode_seeds(seed, start + k), *space.random(rng)) for k in range(size)]
        else:  # refine the worst so far, replaying each parent's seeds
            worst = sorted(evaluated, key=_badness, reverse=True)[: max(2, math.ceil(elite_fraction * population))]
            model = space.fit([row["scenario"] for row in worst])
            parents = [worst[int(rng.integers(len(worst)))] for _ in range(size)]
            plans = [EpisodePlan(start + k, EpisodeSeeds(p["seed"], p["policy_seed"], 0), space.refine(rng, p["scenario"], model))
                     for k, p in enumerate(parents)]
        batch = play_episodes(world, spec, plans, workers=workers, max_steps=max_steps,
                              per_shard=math.ceil(size / workers))
        for plan, row in zip(plans, batch):
            evaluated.append({"scenario": plan.scenario, "seed": plan.seeds.env, "policy_seed": plan.seeds.policy,
                              "edge_case": plan.edge_case,
                              "return": row["return"], "length": row["length"],
                              "margin": row.get(margin) if margin else None, "reasons": failure_reasons(row, metrics)})
        rounds.append({"episodes": size, "failures": sum(bool(row["reasons"]) for row in evaluated[-size:])})
    failures = sorted((row for row in evaluated if row["reasons"]), key=_badness, reverse=True)
    search = {"method": "random search, then local refinement with cross-entropy step sizes", "budget": budget, "population": population,
              "elite_fraction": elite_fraction, "seed": seed, "max_steps": max_steps, "evaluated": len(evaluated),
              "failures": len(failures), "rounds": rounds}
    return Catalogue(world, spec.describe(), failures, search)


def _badness(row: dict[str, Any]) -> tuple[bool, float]:
    """Failures first; then the closest call (the world's margin metric), or the least return per step."""
    if row["margin"] is not None:
        return bool(row["reasons"]), -row["margin"]
    return bool(row["reasons"]), -row["return"] / max(row["length"], 1)
