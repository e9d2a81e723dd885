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
from pathlib import Path
from typing import Any

import numpy as np

from tutelage.methods.collapse import Regime
from tutelage.methods.collapse_guard import CollapseGuard, combine
from tutelage.methods.lineage import Derivation, save_derived
from tutelage.errors import SpecError


def self_training(world: str, build: Callable[[int], Any], folder: Path, *, regimes: Sequence[Regime | str],
                  generations: int = 3, seeds: Iterable[int] = range(3), episodes: int = 6, eval_episodes: int = 10,
                  max_steps: int | None = None, epochs: int = 20, host: Any = None, sampler: Any = None,
                  guard: CollapseGuard | None = None) -> list[dict[str, Any]]:
    """One row per (regime, seed, generation): success rate, collisions per episode, data share and depth.

    ``sampler`` (a :class:`~tutelage.sim.scenarios.ScenarioSampler`) draws the scenarios of data and evaluation."""
    regimes = [r if isinstance(r, Regime) else Regime.parse(r) for r in regimes]
    if any(r.kind not in ("replace", "fresh") for r in regimes):
        raise SpecError("driving self-training: regimes must be replace or fresh=λ")
    guard = guard or CollapseGuard()
    rows = []
    for seed in seeds:
        for regime in regimes:
            rows += _chain(world, build, Path(folder) / f"{regime.name}-seed{seed}", regime, seed, generations,
                           episodes, eval_episodes, max_steps, epochs, host, sampler, guard)
    return rows


def _chain(world: str, build: Callable[[int], Any], folder: Path, regime: Regime, seed: int, generations: int,
           episodes: int, eval_episodes: int, max_steps: int | None, epochs: int, host: Any, sampler: Any,
           guard: CollapseGuard) -> list[dict[str, Any]]:
    from tutelage.methods.evaluate import evaluate
    from tutelage.rollouts.generate import generate

    def play(policy: str, n: int, name: str, offset: int) -> Any:
        return generate(world, policy, n, folder / name, host=host, seed=seed * 1000 + offset, max_steps=max_steps,
                        episodes_per_shard=max(n, 1), sampler=sampler).path

    parts, rows, policy = [play("expert", episodes, "gen0", 0)], [], "expert"
    for g in range(generations + 1):
        if g:
            parts = [play(policy, episodes, f"gen{g}", g)]
            fresh = round(regime.fresh * episodes)
            if fresh:
                parts.append(play("expert", fresh, f"gen{g}-expert", 100 + g))
        student, provenance, verdict = _train(build, parts, seed * 1000 + g, epochs, guard, f"{regime.name}/gen{g}")
        policy = str(folder / f"student{g}.safetensors")
        save_derived(student, policy, Derivation("self-training", dataset=f"{regime.name}/gen{g}",
                                                  teacher="expert" if g == 0 else f"student{g - 1}").guarded(
            verdict, provenance["synthetic_depth"]))
        result = evaluate(student, world, episodes=eval_episodes, seed=10_000 + seed, edge_case_fraction=0.0,
                          max_steps=max_steps, sampler=sampler, quiet=True)
        mean = {key: float(np.mean([e.get(key, 0.0) for e in result.episodes])) for key in ("collisions", "distance_m")}
        rows.append({"source": "driving", "regime": regime.name, "seed": seed, "generation": g,
                     "success_rate": float(result.summary["success_rate"]), **mean,
                     "episodes": eval_episodes, **provenance, "guard": verdict.status})
    return rows


def _train(build: Callable[[int], Any], parts: Sequence[Path], seed: int, epochs: int, guard: CollapseGuard,
           name: str) -> tuple[Any, dict[str, Any], Any]:
    from tutelage.data import Dataset, read_info
    from tutelage.methods.bc import behavior_cloning, dataset_arrays

    arrays = [dataset_arrays(Dataset(part)) for part in parts]
    infos = [read_info(part) for part in parts]
    provenance = combine((len(X), info["synthetic_share"], info["synthetic_depth"]) for (X, *_), info in zip(arrays, infos))
    verdict = guard.check(provenance, name=name)
    X = np.concatenate([a[0] for a in arrays])
    Y = np.concatenate([a[1] for a in arrays])
    student, _ = behavior_cloning(build(seed), (X, Y), seed=seed, epochs=epochs, quiet=True)
    return student, provenance, verdict
