"""The ``generations`` stage: the model-collapse lab inside a run (fit → sample → refit, per regime and seed).

``source`` is ``gaussian``, ``mixture`` or ``digits`` (a VAE; its sample grids per
generation are the photocopy picture), or ``driving``: a driving student trained
on its predecessor's rollouts (``replace``) or with a share of expert episodes
(``fresh=λ``). Curves per regime with 95 % bands go in the report; with
``stop_on_drift`` the first drift alarm of held-out real NLL stops the run.
"""
from __future__ import annotations

from typing import Any

from tutelage.errors import UserError
from tutelage.runs.schema import Field

SOURCES = ("gaussian", "mixture", "digits", "driving")
GRID_REGIMES = ("replace", "accumulate")
METRICS = ("success_rate", "collisions", "distance_m")  # driving self-training, per generation


class DriftStopped(UserError):
    """A generations stage stopped by its drift alarm (exit code 2)."""


class GenerationsStage:
    """Per-generation metrics (``generations/<stage>/results.parquet``), curve figures and, for digits, sample grids."""

    name = "generations"
    produces = ()
    settings = {
        "source": Field(str, "gaussian", choices=SOURCES),
        "regimes": Field(list, ["replace", "accumulate", "fresh=0.1"], items=str,
                         help="replace, accumulate, accumulate-subsample, fresh=λ (driving: replace, fresh=λ)"),
        "generations": Field(int, 5, minimum=1),
        "seeds": Field(int, 3, minimum=2, help="independent chains per regime (>= 2, for intervals)"),
        "n": Field(int, 100, minimum=2, help="rows per generation (lab sources)"),
        "drift": Field(float, 0.05, minimum=1e-6, help="drift alarm: relative rise of held-out real NLL"),
        "stop_on_drift": Field(bool, False, help="stop the run when the drift alarm fires"),
        "episodes": Field(int, 6, minimum=1, help="driving: episodes of data per generation"),
        "expert_episodes": Field(int, None, minimum=1,
                                 help="driving: expert episodes generation 0 clones (default: episodes)"),
        "eval_episodes": Field(int, 10, minimum=1, help="driving: evaluation episodes per student"),
        "max_steps": Field(int, None, minimum=1, help="driving: cap on an episode's steps"),
        "epochs": Field(int, 20, minimum=1, help="driving: behavior-cloning epochs per student"),
        "student": Field(dict, {"hidden": [32, 32], "output_activation": "tanh"}, help="driving: mlp build options"),
    }

    def validate(self, settings: dict[str, Any], check: Any) -> dict[str, Any]:
        from tutelage.errors import SpecError
        from tutelage.methods.collapse import Regime

        for text in settings["regimes"]:
            try:
                regime = Regime.parse(text)
            except SpecError as exc:
                raise check.error("regimes", str(exc)) from None
            if settings["source"] == "driving" and regime.kind not in ("replace", "fresh"):
                raise check.error("regimes", f"driving self-training takes replace or fresh=λ, not {text!r}")
        if settings["source"] == "driving" and check.world != "tutelage/Driving-v0":
            raise check.error("source", f"driving self-training needs world 'tutelage/Driving-v0', not {check.world!r}")
        return settings

    def run(self, context: Any, settings: dict[str, Any]) -> dict[str, Any]:
        from tutelage.methods.collapse_guard import CollapseGuard

        folder = context.path("generations", context.stage.name)
        folder.mkdir(parents=True, exist_ok=True)
        guard = CollapseGuard(**{**context.spec.collapse_guard, "action": "warn"})  # the lab records, never refuses
        if settings["source"] == "driving":
            rows, metrics, grids = self._driving(context, settings, folder, guard), METRICS, {}
        else:
            rows, metrics, grids = self._lab(context, settings, guard)
        return report(context, settings, folder, rows, metrics, grids)

    def _lab(self, context: Any, settings: dict[str, Any], guard: Any) -> tuple[list, tuple, dict]:
        from tutelage.methods import collapse

        model_types = context.host.registry("model_types")
        source = collapse.SOURCES[settings["source"]](model_types)
        grids: dict[str, list[Any]] = {}

        def keep(regime: Any, seed: int, generation: int, model: Any) -> None:
            if settings["source"] == "digits" and seed == 0 and regime.name in GRID_REGIMES:
                grids.setdefault(regime.name, []).append(model.sample(10, seed=0))

        rows = collapse.relative_nll(collapse.run(
            source, settings["regimes"], generations=settings["generations"], seeds=range(settings["seeds"]),
            n=settings["n"], guard=guard, drift=settings["drift"], on_model=keep))
        if settings["stop_on_drift"]:
            stop_on_drift(rows, settings["drift"])
        return rows, tuple(m for m in collapse.METRICS if m in rows[0]), grids

    def _driving(self, context: Any, settings: dict[str, Any], folder: Any, guard: Any) -> list[dict[str, Any]]:
        from tutelage.methods.collapse_driving import self_training
        from tutelage.sim.spaces import io_sizes

        inputs, outputs = io_sizes(context.world)
        mlp = context.host.registry("model_types").get("mlp")
        options = {**settings["student"], "hidden": tuple(settings["student"].get("hidden", (32, 32)))}
        return self_training(
            context.world, lambda seed: mlp.build((inputs,), outputs, seed=seed, **options), folder,
            regimes=settings["regimes"], generations=settings["generations"], seeds=range(settings["seeds"]),
            episodes=settings["episodes"], expert_episodes=settings["expert_episodes"],
            eval_episodes=settings["eval_episodes"], max_steps=settings["max_steps"],
            epochs=settings["epochs"], host=context.host, sampler=context.sampler, guard=guard)


def stop_on_drift(rows: list[dict[str, Any]], drift: float) -> None:
    """Stop with a clear message at the first generation whose held-out real NLL rose more than ``drift``."""
    fired = sorted((r for r in rows if r["drift_alarm"] != "ok"), key=lambda r: (r["generation"], r["regime"], r["seed"]))
    if fired:
        r = fired[0]
        raise DriftStopped(f"drift alarm: held-out real NLL rose {r['nll_change']:+.1%} at generation {r['generation']} "
                           f"(regime {r['regime']}, seed {r['seed']}), above the {drift:.0%} limit; the run stops here")


def report(context: Any, settings: dict[str, Any], folder: Any, rows: list[dict[str, Any]], metrics: tuple,
           grids: dict[str, list[Any]]) -> dict[str, Any]:
    """Write the rows and bands, draw the curves and grids, log the curves; the stage's result."""
    from tutelage.cli.collapse import plot_bands, plot_digit_grid, write_table
    from tutelage.methods import collapse

    bands = collapse.bands(rows, metrics)
    write_table(rows, folder / "results.parquet")
    write_table(bands, folder / "bands.parquet")
    paths = plot_bands(bands, folder, settings["source"])
    paths += [plot_digit_grid(samples, folder, regime) for regime, samples in grids.items()]
    for band in bands:
        context.log(kind="generation", **band)
    last = settings["generations"]
    final = {f"{b['metric']}@{b['regime']}": round(b["estimate"], 4) for b in bands if b["generation"] == last}
    return {"source": settings["source"], "chains": len({(r["regime"], r["seed"]) for r in rows}),
            "generations": last, "guard_warnings": sum(r["guard"] != "ok" for r in rows),
            "figures": [{"title": f"{settings['source']}: {p.stem}", "path": context.relative(p)} for p in paths],
            **final}
