"""``meta/info.json``: what a dataset holds and where it came from.

The ``generation`` section holds every argument that decides the data (world,
policy and its bytes, seed, episode count, shard size, scenarios). A rerun
into the same directory must match it exactly, so resuming never mixes two
different datasets; backend and worker count are not in it, since they do
not change the data.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from tutelage.data.layout import CODEBASE_VERSION, DATA_TEMPLATE, EPISODES_TEMPLATE, FILES_PER_CHUNK, info_path
from tutelage.errors import DataError
from tutelage.fileio import write_json

SEED_SCHEME = "numpy.random.SeedSequence(seed, spawn_key=(episode_index,)).generate_state(3): env, policy, scenario"


def _version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return ""


def software_versions() -> dict[str, Any]:
    """Versions of the libraries and plugins that shape generated data."""
    from tutelage.plugins import get_host

    libraries = {name: _version(name) for name in ("tutelage", "gymnasium", "pybullet", "numpy", "pyarrow")}
    plugins = {info.name: info.version for info in get_host().plugins()}
    return {**libraries, "plugins": plugins}


def new_info(generation: dict[str, Any], policy: dict[str, Any], features: dict[str, Any], fps: float) -> dict[str, Any]:
    """The info of a dataset about to be written (``complete`` is False until the last shard)."""
    return {
        "format": "tutelage-dataset",
        "codebase_version": CODEBASE_VERSION,
        "world": generation["world"],
        "fps": fps,
        "data_path": DATA_TEMPLATE,
        "episodes_path": EPISODES_TEMPLATE,
        "chunks_size": FILES_PER_CHUNK,
        "features": features,
        "generation": generation,
        "seeds": {"run_seed": generation["seed"], "scheme": SEED_SCHEME},
        "policy": policy,
        "synthetic_share": 1.0 if policy["synthetic"] else 0.0,
        "versions": software_versions(),
        "complete": False,
    }


def read_info(root: str | Path) -> dict[str, Any]:
    path = info_path(root)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: not a dataset (no meta/info.json)") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None


def start_or_resume(root: str | Path, info: dict[str, Any]) -> dict[str, Any]:
    """Write ``info`` into a new dataset, or check that ``root`` was started with the same arguments."""
    root = Path(root)
    path = info_path(root)
    if path.exists():
        stored = read_info(root)
        mismatched = _differences(stored.get("generation", {}), info["generation"])
        if mismatched:
            details = "; ".join(f"{key}: dataset has {old!r}, asked for {new!r}" for key, old, new in mismatched)
            raise DataError(f"{path}: dataset was generated with different arguments ({details}); "
                            "use another --out directory or the same arguments to resume")
        if stored.get("features") != info["features"]:
            raise DataError(f"{path}: field 'features' differs from what the world produces now "
                            "(world or plugin changed); use another --out directory")
        return stored
    if root.exists() and any(root.iterdir()):
        raise DataError(f"{root}: directory exists, is not empty and holds no dataset (no meta/info.json)")
    write_json(path, info)
    return info


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    return [(key, old.get(key), new.get(key)) for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)]


@dataclass
class DatasetInfo:
    """What :func:`tutelage.sim.generate.generate` wrote."""

    path: Path
    episodes: int
    frames: int
    shards: int
    resumed_shards: int
    synthetic_share: float
    seconds: float
    info: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def finish_info(root: str | Path, info: dict[str, Any], totals: dict[str, Any]) -> dict[str, Any]:
    """Mark the dataset complete with its totals and statistics."""
    done = {**info, **totals, "complete": True}
    write_json(info_path(root), done)
    return done
