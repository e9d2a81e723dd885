"""What a stage sees while it runs: the run folder, its seed, earlier outputs, logging, progress.

A stage type's ``run(context, settings)`` returns a JSON-able dict. Keys the
runner and the report understand (all optional):

- ``"dataset"`` / ``"model"``: a path inside the run folder (``context.relative``),
  with ``"dataset_id"`` / ``"model_id"``;
- ``"policies"``: ``{label: {"role": "teacher"|"student", "success_rate",
  "mean_return", the world's metrics and their declarations under "metrics", "n_params", "inference_us",
  "by_edge_case", "by_scenario", "model_id"}}`` from an evaluation;
- ``"gif"``: a path inside the run folder to an animated GIF;
- anything else is shown in the report's stage table.
"""
from __future__ import annotations

import functools
import json
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tutelage.plugins import PluginHost
from tutelage.runs.registry import Lineage
from tutelage.runs.spec import RunSpec, StageSpec

METRICS_FILE = "metrics.jsonl"


class MetricsLog:
    """Append-only ``metrics.jsonl``: one JSON object per line, each tagged with its stage."""

    def __init__(self, path: Path):
        self.path = path

    def append(self, record: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
            handle.flush()

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        records = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a kill
                continue
        return records


class RunContext:
    """The run as one stage sees it."""

    def __init__(self, run_dir: Path, run_id: str, spec: RunSpec, host: PluginHost, lineage: Lineage,
                 progress: Callable[[int, str], Callable[[int], None]], quiet: bool):
        self.run_dir, self.run_id, self.spec, self.host, self.lineage = run_dir, run_id, spec, host, lineage
        self.quiet = quiet
        self.metrics = MetricsLog(run_dir / METRICS_FILE)
        self.outputs: dict[str, dict[str, Any]] = {}
        self.stage: StageSpec | None = None
        self._progress = progress

    @property
    def world(self) -> str:
        return self.spec.world

    @functools.cached_property
    def sampler(self) -> Any:
        """The run's scenario ranges and edge cases (see :meth:`RunSpec.sampler`)."""
        return self.spec.sampler()

    def edge_case_fraction(self, setting: float | None) -> float:
        """A stage's ``edge_case_fraction`` setting, or the spec's ``[scenarios]`` default when unset."""
        return self.spec.scenarios["edge_case_fraction"] if setting is None else setting

    def stage_seed(self, salt: int = 0) -> int:
        """A seed for the current stage, fixed by the run's seed and the stage's name."""
        assert self.stage is not None
        key = [self.spec.seed, zlib.crc32(self.stage.name.encode()), salt]
        return int(np.random.SeedSequence(key).generate_state(1)[0])

    def path(self, *parts: str) -> Path:
        """A path inside the run folder; its parent folders are created."""
        target = self.run_dir.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def relative(self, path: Path | str) -> str:
        """``path`` relative to the run folder (what results record)."""
        return Path(path).resolve().relative_to(self.run_dir.resolve()).as_posix()

    def resolve(self, relative: str) -> Path:
        return self.run_dir / relative

    def output(self, stage_name: str) -> dict[str, Any]:
        """The result of an earlier stage."""
        return self.outputs[stage_name]

    def log(self, **record: Any) -> None:
        """Append a record (``kind``, ``series``, ``x``, ``y`` for curves) to ``metrics.jsonl``."""
        assert self.stage is not None
        self.metrics.append({"stage": self.stage.name, **record})

    def progress(self, total: int, description: str) -> Callable[[int], None]:
        """A progress bar with ETA for this stage; call the returned function to advance it."""
        assert self.stage is not None
        return self._progress(total, f"{self.stage.name}: {description}")
