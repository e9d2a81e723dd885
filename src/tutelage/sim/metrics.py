"""Episode metrics that a world declares: names, units, direction and how steps reduce to an episode.

The core knows only ``success`` and ``return``. Everything else a world
reports (collisions per km on a road, final distance to a goal on a table) is
a :class:`Metric` in its ``metrics`` tuple: the episode value is reduced from
one ``info`` key over the steps, and the value over many episodes is a mean,
or a ratio of two sums (``collisions_per_km = 1000 * Σ collisions / Σ distance_m``).
Datasets, evaluations, summaries and reports take their metric columns from
here.

>>> Metric("min_ttc", unit="s", higher_is_better=True, reduce="min")
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

REDUCTIONS = ("any", "onsets", "min", "max", "sum", "mean", "last")


@dataclass(frozen=True)
class Metric:
    """One metric a world reports.

    ``reduce`` turns the per-step values of ``info[key]`` (``key`` defaults to
    ``name``) into one episode value: ``any`` (a flag ever true), ``onsets``
    (how many times a flag became true), ``min``, ``max``, ``sum``, ``mean`` or
    ``last``. With ``ratio = (numerator, denominator)`` the metric is no
    per-step value but the ratio of two other metrics' sums over the
    episodes, times ``scale``. ``margin = True`` marks a safety margin (lower
    is a closer call), which failure search ranks near misses by;
    ``headline = True`` puts the metric in summary tables.
    """

    name: str
    unit: str = ""
    higher_is_better: bool = False
    description: str = ""
    reduce: str = "last"
    key: str = ""
    ratio: tuple[str, str] | None = None
    scale: float = 1.0
    margin: bool = False
    headline: bool = False

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"metric name must be an identifier, got {self.name!r}")
        if self.ratio is None and self.reduce not in REDUCTIONS:
            raise ValueError(f"metric {self.name!r}: reduce must be one of {REDUCTIONS}, got {self.reduce!r}")

    @property
    def info_key(self) -> str:
        return self.key or self.name

    @property
    def is_flag(self) -> bool:
        return self.ratio is None and self.reduce == "any"

    def label(self) -> str:
        """``'collisions per km (1/km, lower is better)'`` for tables and plot axes."""
        unit = f"{self.unit}, " if self.unit else ""
        better = "higher" if self.higher_is_better else "lower"
        return f"{self.name.replace('_', ' ')} ({unit}{better} is better)"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "unit": self.unit, "higher_is_better": self.higher_is_better,
                "description": self.description, "ratio": list(self.ratio) if self.ratio else None,
                "headline": self.headline, "label": self.label()}


class EpisodeMetrics:
    """Accumulates a world's step metrics over one episode: ``add(info)`` each step, then ``values()``."""

    def __init__(self, metrics: Sequence[Metric]):
        self.metrics = [m for m in metrics if m.ratio is None]
        self._state: dict[str, Any] = {m.name: None for m in self.metrics}
        self._previous: dict[str, bool] = {}
        self._steps = 0

    def add(self, info: Mapping[str, Any]) -> None:
        self._steps += 1
        for metric in self.metrics:
            if metric.info_key not in info:
                continue
            value = info[metric.info_key]
            current = self._state[metric.name]
            kind = metric.reduce
            if kind == "any":
                self._state[metric.name] = bool(current) or bool(value)
            elif kind == "onsets":
                flag = bool(value)
                self._state[metric.name] = (current or 0) + int(flag and not self._previous.get(metric.name, False))
                self._previous[metric.name] = flag
            elif kind == "last":
                self._state[metric.name] = float(value)
            elif kind in ("sum", "mean"):
                self._state[metric.name] = (current or 0.0) + float(value)
            else:
                value = float(value)
                pick = min if kind == "min" else max
                self._state[metric.name] = value if current is None else pick(current, value)

    def values(self) -> dict[str, Any]:
        """Episode values; a metric the world never reported in this episode is None."""
        out: dict[str, Any] = {}
        for metric in self.metrics:
            value = self._state[metric.name]
            if metric.reduce == "mean" and value is not None:
                value = value / self._steps
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            out[metric.name] = value
        return out


def aggregate(metrics: Sequence[Metric], episodes: Iterable[Mapping[str, Any]]) -> dict[str, float | None]:
    """Each metric over many episode records: the mean of episode values (flags: the share of
    episodes), or for a ratio metric the ratio of sums. Missing values are skipped; None when none."""
    records = list(episodes)
    out: dict[str, float | None] = {}
    for metric in metrics:
        if metric.ratio is not None:
            top, bottom = (sum(float(r.get(k) or 0.0) for r in records) for k in metric.ratio)
            out[metric.name] = metric.scale * top / bottom if bottom > 0 else None
            continue
        values = [float(r[metric.name]) for r in records if r.get(metric.name) is not None]
        out[metric.name] = sum(values) / len(values) if values else None
    return out


def check_metrics(metrics: Any, where: str) -> tuple[Metric, ...]:
    """A world's ``metrics`` as a tuple of :class:`Metric`, or a ValueError naming ``where``."""
    if not isinstance(metrics, (tuple, list)) or not all(isinstance(m, Metric) for m in metrics):
        raise ValueError(f"{where}: metrics must be a tuple of tutelage.sim.metrics.Metric")
    names = [m.name for m in metrics]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{where}: metric names declared twice: {duplicates}")
    for metric in metrics:
        missing = [k for k in metric.ratio or () if k not in names]
        if missing:
            raise ValueError(f"{where}: metric {metric.name!r} is a ratio of undeclared metrics {missing}")
    reserved = {"success", "return", "steps"} & set(names)
    if reserved:
        raise ValueError(f"{where}: metric names {sorted(reserved)} are reserved for the core")
    return tuple(metrics)
