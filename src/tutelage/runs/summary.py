"""A finished run's summary: the stages, the evaluated policies, the models, datasets and GIFs.

Built only from the stage results recorded in ``state.json``, so the report,
``--json`` and the registry all show the numbers the run produced.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import tutelage
from tutelage.runs.spec import RunSpec
from tutelage.runs.state import RunState

#: result keys shown in their own report sections rather than in the stage table
STRUCTURED_KEYS = ("policies", "gif", "gifs")


def summarize(spec: RunSpec, run_dir: Path, state: RunState, *, seconds: float) -> dict[str, Any]:
    stages, policies, gifs, models, datasets = [], {}, [], [], []
    for stage in spec.stages:
        done = state.done[stage.name]
        result = done["result"]
        stages.append({
            "name": stage.name, "type": stage.type, "seconds": done["seconds"],
            "result": {k: v for k, v in result.items() if k not in STRUCTURED_KEYS},
        })
        for label, metrics in result.get("policies", {}).items():
            policies[label] = {**metrics, "stage": stage.name}
        if "gif" in result:
            gifs.append({"stage": stage.name, "path": result["gif"], "caption": result.get("gif_caption", "")})
        if "model" in result:
            models.append({"stage": stage.name, "path": result["model"], "id": result.get("model_id")})
        if "dataset" in result:
            datasets.append({"stage": stage.name, "path": result["dataset"], "id": result.get("dataset_id")})
    return {
        "run_id": state.run_id, "run_dir": str(run_dir), "name": spec.name, "description": spec.description,
        "world": spec.world, "seed": spec.seed, "quick": spec.quick, "tutelage_version": tutelage.__version__,
        "seconds": round(seconds, 3), "stage_seconds": round(sum(s["seconds"] for s in stages), 3),
        "stages": stages, "policies": policies, "gifs": gifs, "models": models, "datasets": datasets,
    }


def _percent(value: Any) -> str:
    return f"{100 * value:.1f} %"


def _fixed(digits: int) -> Any:
    return lambda value: f"{value:,.{digits}f}"


#: the summary table's columns around the world's headline metrics:
#: (result key, heading in the report, short heading for terminals, formatter)
FIRST_COLUMNS: list[tuple[str, str, str, Any]] = [("success_rate", "success", "success", _percent)]
LAST_COLUMNS: list[tuple[str, str, str, Any]] = [
    ("mean_return", "mean return", "return", _fixed(1)),
    ("n_params", "parameters", "params", lambda v: f"{int(v):,}"),
    ("inference_us", "batch-1 inference (µs)", "µs/act", _fixed(1)),
    ("episodes", "episodes", "eps", lambda v: f"{int(v):,}"),
]


def _metric_format(metric: dict[str, Any]) -> Any:
    flag = metric.get("ratio") is None and metric.get("unit", "") == "" and not metric.get("higher_is_better")
    return _percent if flag else _fixed(2)


def columns(summary: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    """The table's columns: success, the headline metrics the world declares, then return, size, speed, n."""
    declared: dict[str, dict[str, Any]] = {}
    for metrics in summary["policies"].values():
        for metric in metrics.get("metrics", []):
            declared.setdefault(metric["name"], metric)
    headline = [(name, m.get("label", name), name.replace("_", " "), _metric_format(m))
                for name, m in declared.items() if m.get("headline")]
    return [*FIRST_COLUMNS, *headline, *LAST_COLUMNS]


def teachers_first(policies: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The evaluated policies with the teachers first (otherwise in their order)."""
    return dict(sorted(policies.items(), key=lambda item: item[1].get("role") != "teacher"))


def policy_rows(summary: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """``(label, role, cells)`` for each evaluated policy, teachers first; missing values show as '—';
    the success rate carries its 95 % interval in percent, ``92.5 % (80–97)``."""
    rows = []
    for label, metrics in teachers_first(summary["policies"]).items():
        cells = [fmt(metrics[key]) if metrics.get(key) is not None else "—" for key, _, _, fmt in columns(summary)]
        interval = metrics.get("success_interval")
        if interval and metrics.get("success_rate") is not None:
            cells[0] += f" ({100 * interval[0]:.0f}–{100 * interval[1]:.0f})"
        rows.append((label, metrics.get("role", ""), cells))
    return rows


def successes(metrics: dict[str, Any]) -> tuple[int, int]:
    """``(successes, episodes)`` of one evaluated policy."""
    n = int(metrics.get("episodes") or 0)
    return round(float(metrics.get("success_rate") or 0.0) * n), n


def separation_notes(summary: dict[str, Any]) -> list[str]:
    """One sentence per policy whose success rate the sample cannot tell apart from the first teacher's
    (the 95 % interval of the difference, :func:`tutelage.stats.difference_of_proportions`, holds 0)."""
    from tutelage.stats import difference_of_proportions

    ordered = teachers_first(summary["policies"])
    if len(ordered) < 2:
        return []
    (reference, first), *others = ordered.items()
    notes = []
    for label, metrics in others:
        if metrics.get("success_rate") is None or first.get("success_rate") is None:
            continue
        diff = difference_of_proportions(*successes(metrics), *successes(first))
        if diff.low <= 0.0 <= diff.high and diff.estimate == diff.estimate:
            notes.append(f"{label} vs {reference}: success differs by {100 * diff.estimate:+.1f} points, 95 % interval "
                         f"[{100 * diff.low:+.1f}, {100 * diff.high:+.1f}] with n = {successes(metrics)[1]} and "
                         f"{successes(first)[1]}: too few episodes to tell the two apart")
    return notes
