"""Self-training in simulation: a driving student trained generation after generation on its predecessor's rollouts.

Generation 0 clones the privileged expert's demonstrations (depth 0). Generation
g + 1 clones the rollouts of generation g's student, its own actions as labels
(depth g + 1): under ``replace`` nothing else, under ``fresh=λ`` with a share λ of
newly drawn expert episodes mixed in. Every dataset is written by
:func:`tutelage.rollouts.generate.generate`, so its ``synthetic_depth`` comes from
the student file's lineage, and each generation's mixed provenance is
:func:`~tutelage.methods.collapse_guard.combine`'d and checked by the guard.
Each student is evaluated on the same scenarios: success rate, collisions and
metres driven per episode.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tutelage.methods.collapse import Regime
from tutelage.methods.collapse_guard import CollapseGuard
from tutelage.methods.lineage import Derivation, save_derived
from tutelage.errors import SpecError


def self_training(world: str, build: Callable[[int], Any], folder: Path, *, regimes: Sequence[Regime | str],
                  generations: int = 3, seeds: Iterable[int] = range(3), episodes: int = 6, eval_episodes: int = 10,
                  expert_episodes: int | None = None, max_steps: int | None = None, epochs: int = 20,
                  standardize: bool = True, host: Any = None, sampler: Any = None,
                  guard: CollapseGuard | None = None) -> list[dict[str, Any]]:
    """One row per (regime, seed, generation): success rate, collisions per episode, data share and depth.

    Generation 0 (cloned from ``expert_episodes`` expert episodes, default ``episodes``) is trained once per
    seed and shared by every regime; later generations learn from ``episodes`` rollouts of their predecessor
    (plus ``round(λ·episodes)`` fresh expert episodes under ``fresh=λ``). ``sampler`` (a
    :class:`~tutelage.sim.scenarios.ScenarioSampler`) draws the scenarios of data and evaluation."""
    regimes = [r if isinstance(r, Regime) else Regime.parse(r) for r in regimes]
    if any(r.kind not in ("replace", "fresh") for r in regimes):
        raise SpecError("driving self-training: regimes must be replace or fresh=λ")
    chain = _Chain(world, build, guard or CollapseGuard(), eval_episodes, max_steps, epochs, standardize, host,
                   sampler)
    rows = []
    for seed in seeds:
        seed_folder = Path(folder) / f"seed{seed}"
        data = chain.play("expert", expert_episodes or episodes, seed_folder / "gen0", seed, 0)
        first = chain.generation(seed_folder / "student0.safetensors", [data], seed, 0, "expert", "gen0")
        for regime in regimes:
            rows.append({"regime": regime.name, **first})
            policy, regime_folder = first["policy"], seed_folder / regime.name
            for g in range(1, generations + 1):
                parts = [chain.play(policy, episodes, regime_folder / f"gen{g}", seed, g)]
                fresh = round(regime.fresh * episodes)
                if fresh:
                    parts.append(chain.play("expert", fresh, regime_folder / f"gen{g}-expert", seed, 100 + g))
                row = chain.generation(regime_folder / f"student{g}.safetensors", parts, seed, g, f"student{g - 1}",
                                       f"{regime.name}/gen{g}")
                rows.append({"regime": regime.name, **row})
                policy = row["policy"]
    return [{key: value for key, value in row.items() if key != "policy"} for row in rows]


@dataclass(frozen=True)
class _Chain:
    """What every generation of a self-training chain shares."""

    world: str
    build: Callable[[int], Any]
    guard: CollapseGuard
    eval_episodes: int
    max_steps: int | None
    epochs: int
    standardize: bool
    host: Any
    sampler: Any

    def play(self, policy: str, n: int, out: Path, seed: int, offset: int) -> Path:
        from tutelage.rollouts.generate import generate

        return generate(self.world, policy, n, out, host=self.host, seed=seed * 1000 + offset,
                        max_steps=self.max_steps, episodes_per_shard=max(n, 1), sampler=self.sampler).path

    def generation(self, path: Path, parts: Sequence[Path], seed: int, g: int, teacher: str,
                   name: str) -> dict[str, Any]:
        """Clone a student from ``parts``, save it with its lineage, evaluate it: one row (with its ``policy`` file)."""
        from tutelage.methods.evaluate import evaluate

        student, provenance, verdict = _train(self.build, parts, seed * 1000 + g, self.epochs, self.standardize,
                                              self.guard, name)
        save_derived(student, path, Derivation("self-training", dataset=name, teacher=teacher).guarded(
            verdict, provenance["synthetic_depth"]))
        result = evaluate(student, self.world, episodes=self.eval_episodes, seed=10_000 + seed,
                          edge_case_fraction=0.0, max_steps=self.max_steps, sampler=self.sampler, quiet=True)
        mean = {key: float(np.mean([e.get(key, 0.0) for e in result.episodes])) for key in ("collisions", "distance_m")}
        return {"source": "driving", "seed": seed, "generation": g,
                "success_rate": float(result.summary["success_rate"]), **mean, "episodes": self.eval_episodes,
                "successes": int(sum(bool(e.get("success")) for e in result.episodes)),
                "collided": int(sum(e.get("collisions", 0) > 0 for e in result.episodes)),
                "synthetic_share": provenance["synthetic_share"], "synthetic_depth": provenance["synthetic_depth"],
                "guard": verdict.status, "policy": str(path)}


def _train(build: Callable[[int], Any], parts: Sequence[Path], seed: int, epochs: int, standardize: bool,
           guard: CollapseGuard, name: str) -> tuple[Any, dict[str, Any], Any]:
    from tutelage.data import Dataset, concat, row_provenance
    from tutelage.methods.bc import behavior_cloning, observation_columns_of, observation_matrix

    datasets = [Dataset(part) for part in parts]
    columns = observation_columns_of(datasets[0])
    arrays = concat(datasets, [*columns, "action"])
    provenance = row_provenance(arrays["synthetic_depth"])
    verdict = guard.check(provenance, name=name)
    student, _ = behavior_cloning(build(seed), (observation_matrix(arrays, columns), arrays["action"]), seed=seed,
                                  epochs=epochs, standardize=standardize, quiet=True)
    return student, provenance, verdict
