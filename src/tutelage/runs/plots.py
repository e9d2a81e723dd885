"""PNG plots of a run (matplotlib, Agg backend): learning curves, success by edge case and by scenario.

Each function writes one PNG and returns its path, or None when the run has
nothing to plot for it.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from tutelage import fileio  # noqa: E402
from tutelage.runs.summary import teachers_first  # noqa: E402

DPI = 110


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    with fileio.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    plt.close(fig)
    return path


def learning_curves(records: list[dict[str, Any]], path: Path) -> Path | None:
    """One panel per ``panel`` (default: the stage) of ``kind = "curve"`` records; one line per series."""
    panels: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    x_labels: dict[str, str] = {}
    for record in records:
        if record.get("kind") == "curve":
            panel = record.get("panel", record["stage"])
            panels[panel][record["series"]].append((record["x"], record["y"]))
            x_labels.setdefault(panel, record.get("x_label", "epoch"))
    if not panels:
        return None
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.4 * columns, 3.3 * rows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, (panel, series) in zip(axes.flat, panels.items()):
        for name, points in series.items():
            xs, ys = zip(*sorted(points))
            ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3, label=name)
        values = [y for points in series.values() for _, y in points]
        if all("loss" in name for name in series) and min(values) > 0 and max(values) / min(values) > 20:
            ax.set_yscale("log")
        ax.set_title(panel, fontsize=10)
        ax.set_xlabel(x_labels[panel])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, path)


def success_by(policies: dict[str, dict[str, Any]], key: str, title: str, path: Path) -> Path | None:
    """Horizontal grouped bars: success rate of every policy in each group of ``policies[label][key]``."""
    table = {label: {g: _rate(v) for g, v in p.get(key, {}).items()} for label, p in policies.items() if p.get(key)}
    if not table:
        return None
    groups = sorted({g for rates in table.values() for g in rates})
    counts = {g: v["episodes"] for p in policies.values() for g, v in p.get(key, {}).items() if isinstance(v, dict) and "episodes" in v}
    height = 0.8 / len(table)
    fig, ax = plt.subplots(figsize=(8.0, 1.2 + 0.3 * len(groups) * max(1.0, len(table) / 2.5)))
    for i, (label, rates) in enumerate(table.items()):
        ys = [j + (i - (len(table) - 1) / 2) * height for j in range(len(groups))]
        ax.barh(ys, [rates.get(g, 0.0) for g in groups], height=height, label=label)
    ax.set_yticks(range(len(groups)), [f"{g}  (n={counts[g]})" if g in counts else g for g in groups], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.0)
    ax.set_xlabel("success rate")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, path)


def _rate(value: Any) -> float:
    """A group's success rate, whether stored as a number or as ``{"success_rate": ...}``."""
    return float(value["success_rate"] if isinstance(value, dict) else value)


def reliability(stages: list[dict[str, Any]], path: Path) -> Path | None:
    """Reliability diagram of each judge stage's ``p_first`` against the oracle's preference."""
    judged = [(s["name"], s["result"]["calibration"]) for s in stages if s["type"] == "judge" and s["result"].get("calibration")]
    if not judged:
        return None
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="calibrated")
    for name, bins in judged:
        ax.plot([b["p_first"] for b in bins], [b["observed"] for b in bins], marker="o", markersize=3, label=name)
    ax.set_xlabel("stated P(first is better)")
    ax.set_ylabel("share the oracle prefers first")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def overoptimization(stages: list[dict[str, Any]], path: Path) -> Path | None:
    """Best-of-n by the reward model as n grows: its own score against the oracle return."""
    curves = [(s["name"], s["result"]["overoptimization"]) for s in stages if s["result"].get("overoptimization")]
    if not curves:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(8.8, 3.4))
    for name, points in curves:
        for ax, key in zip(axes, ("reward", "oracle")):
            ax.plot([p["n"] for p in points], [p[key] for p in points], marker="o", markersize=3, label=name)
    for ax, title in zip(axes, ("reward-model score of the pick", "oracle return of the pick")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("best of n")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, path)


def make_plots(summary: dict[str, Any], records: list[dict[str, Any]], folder: Path) -> list[tuple[str, Path]]:
    """Every plot this run has data for, as ``(title, path)``."""
    policies = teachers_first(summary["policies"])
    candidates = [
        ("Learning curves", learning_curves(records, folder / "learning_curves.png")),
        ("Success by edge case", success_by(policies, "by_edge_case", "Success by edge case", folder / "success_by_edge_case.png")),
        ("Success by scenario type", success_by(policies, "by_scenario", "Success by scenario type", folder / "success_by_scenario.png")),
        ("Calibration of the judges' p_first", reliability(summary["stages"], folder / "reliability.png")),
        ("Over-optimization: best-of-n", overoptimization(summary["stages"], folder / "overoptimization.png")),
    ]
    return [(title, path) for title, path in candidates if path is not None] + stage_figures(summary["stages"], folder.parent)


def stage_figures(stages: list[dict[str, Any]], run_dir: Path) -> list[tuple[str, Path]]:
    """Figures a stage drew itself (its result's ``figures``: title and path in the run folder), e.g. the
    generations stage's metric-by-generation bands and digit sample grids."""
    return [(figure["title"], run_dir / figure["path"]) for s in stages for figure in s["result"].get("figures", [])
            if (run_dir / figure["path"]).is_file()]
