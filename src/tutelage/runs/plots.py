"""PNG plots of a run (matplotlib, Agg backend): learning curves, success by edge case and by scenario.

Each function writes one PNG and returns its path, or None when the run has
nothing to plot for it.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from tutelage import fileio  # noqa: E402
from tutelage.runs.summary import teachers_first  # noqa: E402
from tutelage.stats import wilson  # noqa: E402

DPI = 110


def _save(fig: Any, path: Path) -> Path:
    """Write the PNG and, beside it, ``<name>.png.json``: the title and axis labels of every panel (what a
    reader checks without looking at pixels)."""
    fig.tight_layout()
    with fileio.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    panels = [{"title": ax.get_title(), "x_label": ax.get_xlabel(), "y_label": ax.get_ylabel()}
              for ax in fig.axes if ax.get_visible()]
    fileio.write_text(metadata_path(path), json.dumps({"file": path.name, "panels": panels}, indent=2))
    plt.close(fig)
    return path


def metadata_path(png: Path) -> Path:
    return png.with_name(png.name + ".json")


#: how a learning-curve series is named in legends, and the y-axis label of a panel whose series are all of a kind
SERIES_LABELS = {"loss": "training loss", "val_loss": "validation loss", "success_rate": "success rate",
                 "beta": "β (share of steps the teacher drives)"}


def _y_label(series: list[str]) -> str:
    if all("loss" in name for name in series):
        return "loss (training objective; lower is better)"
    if all(name == "success_rate" for name in series):
        return "success rate (share of episodes)"
    return ", ".join(SERIES_LABELS.get(name, name.replace("_", " ")) for name in series)


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
            ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3, label=SERIES_LABELS.get(name, name))
        values = [y for points in series.values() for _, y in points]
        if all("loss" in name for name in series) and min(values) > 0 and max(values) / min(values) > 20:
            ax.set_yscale("log")
        elif min(values) >= 0:
            ax.set_ylim(bottom=0)  # from zero, so a small wobble does not look like a swing
        if all(name.endswith("_rate") for name in series):  # a share: the whole 0-1 range, so noise stays small
            ax.set_ylim(-0.02, 1.02)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs and rounds are whole numbers
        ax.set_title(panel, fontsize=10)
        ax.set_xlabel(x_labels[panel])
        ax.set_ylabel(_y_label(list(series)), fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, path)


def success_by(policies: dict[str, dict[str, Any]], key: str, title: str, path: Path, group: str) -> Path | None:
    """Horizontal grouped bars: success rate of every policy in each group of ``policies[label][key]``, with its
    95 % Wilson interval and n at the end of each bar; ``group`` names the y axis."""
    table = {label: {g: _counts(v) for g, v in p.get(key, {}).items()} for label, p in policies.items() if p.get(key)}
    if not table:
        return None
    groups = sorted({g for rates in table.values() for g in rates})
    height = 0.8 / len(table)
    fig, ax = plt.subplots(figsize=(8.0, 1.4 + 0.3 * len(groups) * max(1.0, len(table) / 2.5)))
    for i, (label, counts) in enumerate(table.items()):
        ys = [j + (i - (len(table) - 1) / 2) * height for j in range(len(groups))]
        rates = [counts[g][0] if g in counts else 0.0 for g in groups]
        low, high = zip(*[(r - wilson(*counts[g][1:]).low, wilson(*counts[g][1:]).high - r) if g in counts else (0, 0)
                          for r, g in zip(rates, groups)])
        ax.barh(ys, rates, height=height, label=label, xerr=[low, high], capsize=2, error_kw={"elinewidth": 0.8})
        for y, g in zip(ys, groups):
            if g in counts:
                ax.text(1.01, y, f"n={counts[g][2]}", va="center", fontsize=6, transform=ax.get_yaxis_transform())
    ax.set_yticks(range(len(groups)), groups, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.0)
    ax.set_xlabel("success rate (share of episodes; whiskers: 95 % Wilson interval)")
    ax.set_ylabel(group)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.08, 1.0))
    return _save(fig, path)


def _counts(value: Any) -> tuple[float, int, int]:
    """``(rate, successes, episodes)`` of a group, stored as ``{"success_rate", "episodes"}`` (or a bare rate)."""
    rate = _rate(value)
    n = int(value.get("episodes", 0)) if isinstance(value, dict) else 0
    return rate, round(rate * n), n


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
    for ax, title, y_label in zip(axes, ("reward-model score of the pick", "oracle return of the pick"),
                                  ("reward-model score (no unit)", "oracle return (sum of rewards)")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("best of n")
        ax.set_ylabel(y_label, fontsize=9)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, path)


def make_plots(summary: dict[str, Any], records: list[dict[str, Any]], folder: Path) -> list[tuple[str, Path]]:
    """Every plot this run has data for, as ``(title, path)``."""
    policies = teachers_first(summary["policies"])
    candidates = [
        ("Learning curves", learning_curves(records, folder / "learning_curves.png")),
        ("Success by edge case", success_by(policies, "by_edge_case", "Success by edge case",
                                            folder / "success_by_edge_case.png", "edge case")),
        ("Success by scenario type", success_by(policies, "by_scenario", "Success by scenario type",
                                                folder / "success_by_scenario.png", "scenario type")),
        ("Calibration of the judges' p_first", reliability(summary["stages"], folder / "reliability.png")),
        ("Over-optimization: best-of-n", overoptimization(summary["stages"], folder / "overoptimization.png")),
    ]
    return [(title, path) for title, path in candidates if path is not None] + stage_figures(summary["stages"], folder.parent)


def stage_figures(stages: list[dict[str, Any]], run_dir: Path) -> list[tuple[str, Path]]:
    """Figures a stage drew itself (its result's ``figures``: title and path in the run folder), e.g. the
    generations stage's metric-by-generation bands and digit sample grids."""
    return [(figure["title"], run_dir / figure["path"]) for s in stages for figure in s["result"].get("figures", [])
            if (run_dir / figure["path"]).is_file()]
