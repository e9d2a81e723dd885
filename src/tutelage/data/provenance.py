"""``meta/info.json``: what a dataset holds and where it came from.

The ``generation`` section holds every argument that decides the data (world,
policy and its bytes, seed, episode count, shard size, scenarios). A rerun
into the same directory must match it exactly, so resuming never mixes two
different datasets (a larger episode count grows the dataset: its full shards
stay, the rest are written as a fresh run with that count would write them);
backend and worker count are not in it, since they do
not change the data.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from tutelage.data.layout import CODEBASE_VERSION, DATA_TEMPLATE, EPISODES_TEMPLATE, FILES_PER_CHUNK, info_path
from tutelage.errors import DataError, DatasetError, os_reason
from tutelage.fileio import nesting_depth, read_limited, write_json

SEED_SCHEME = "numpy.random.SeedSequence([seed, split], spawn_key=(episode_index,)).generate_state(3): env, policy, scenario"


def _version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return ""


def software_versions(plugins: dict[str, str] | None = None) -> dict[str, Any]:
    """Versions of the libraries, and of the plugins (name → version) that shape generated data."""
    libraries = {name: _version(name) for name in ("tutelage", "gymnasium", "pybullet", "numpy", "pyarrow")}
    return {**libraries, "plugins": dict(plugins or {})}


def dataset_id(generation: dict[str, Any]) -> str:
    """16 hex digits identifying the data: the same generation arguments give the same frames."""
    return hashlib.sha256(json.dumps(generation, sort_keys=True).encode()).hexdigest()[:16]


def new_info(generation: dict[str, Any], policy: dict[str, Any], features: dict[str, Any], fps: float,
             plugins: dict[str, str] | None = None) -> dict[str, Any]:
    """The info of a dataset about to be written (``complete`` is False until the last shard)."""
    return {
        "format": "tutelage-dataset",
        "id": dataset_id(generation),
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
        "synthetic_depth": synthetic_depth(policy),
        "versions": software_versions(plugins),
        "complete": False,
    }


def synthetic_depth(policy: dict[str, Any]) -> int:
    """The depth of data a policy generates: 0 for ground truth (an expert, a scripted teacher), else one
    deeper than the data its model was trained on (its lineage's ``data_depth``; 0 when not recorded)."""
    if not policy["synthetic"]:
        return 0
    return int((policy.get("lineage") or {}).get("data_depth") or 0) + 1


def row_provenance(depths: Any) -> dict[str, Any]:
    """A dataset's provenance from its rows' depths: the share of synthetic rows (depth > 0), the deepest
    row, and the rows at each depth (``{"0": rows, "2": rows}``)."""
    depths = np.asarray(depths, dtype=np.int64)
    values, counts = np.unique(depths, return_counts=True)
    return {"synthetic_share": float(np.mean(depths > 0)) if depths.size else 0.0,
            "synthetic_depth": int(depths.max(initial=0)),
            "synthetic_depth_rows": {str(int(v)): int(c) for v, c in zip(values, counts)}}


MAX_INFO_BYTES = 64 << 20
MAX_INFO_DEPTH = 32
MAX_EPISODES = 10**9


def read_info(root: str | Path) -> dict[str, Any]:
    """``meta/info.json`` as a dict; an unreadable, non-UTF-8, non-JSON, non-object or deeply nested file
    is a :class:`~tutelage.errors.DatasetError` naming it."""
    path = info_path(root)
    try:
        text = read_limited(path, MAX_INFO_BYTES).decode("utf-8")
        info = json.loads(text)
    except FileNotFoundError:
        raise DatasetError(f"{path}: not a dataset (no meta/info.json)") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the dataset's info: {os_reason(exc)}") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        info = None
    if info is None or nesting_depth(info, MAX_INFO_DEPTH) > MAX_INFO_DEPTH:
        raise DatasetError(f"{path}: JSON nested deeper than {MAX_INFO_DEPTH} levels") from None
    if not isinstance(info, dict):
        raise DatasetError(f"{path}: must hold a JSON object, got {type(info).__name__}")
    return info


def check_info(info: dict[str, Any], path: str | Path) -> None:
    """The fields a reader relies on, with their types and ranges; a :class:`DatasetError` naming the field otherwise."""
    def need(container: Any, key: str, kinds: type, where: str) -> Any:
        value = container.get(key) if isinstance(container, dict) else None
        if not isinstance(value, kinds) or (isinstance(value, bool) and kinds is not bool):
            raise DatasetError(f"{path}: field {where!r} is missing or not {_KINDS[kinds]} (got {str(value)[:60]!r})")
        return value

    generation = need(info, "generation", dict, "generation")
    for key in ("episodes", "episodes_per_shard"):
        if not 1 <= need(generation, key, int, f"generation.{key}") <= MAX_EPISODES:
            raise DatasetError(f"{path}: field 'generation.{key}' must be in [1, {MAX_EPISODES}], got {generation[key]}")
    features = need(info, "features", dict, "features")
    for name, feature in features.items():
        need(feature, "dtype", str, f"features.{name}.dtype")
        shape = need(feature, "shape", list, f"features.{name}.shape")
        if not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= MAX_EPISODES for d in shape):
            raise DatasetError(f"{path}: field 'features.{name}.shape' must be a list of sizes, got {str(shape)[:60]}")
    if need(info, "complete", bool, "complete"):
        for key in ("total_frames", "total_episodes"):
            if need(info, key, int, key) < 0:
                raise DatasetError(f"{path}: field {key!r} must not be negative, got {info[key]}")


_KINDS = {dict: "an object", list: "a list", int: "an integer", str: "a string", bool: "true or false"}


def start_or_resume(root: str | Path, info: dict[str, Any]) -> dict[str, Any]:
    """Write ``info`` into a new dataset, or check that ``root`` was started with the same arguments."""
    root = Path(root)
    path = info_path(root)
    if path.exists():
        stored = read_info(root)
        mismatched = _differences(stored.get("generation", {}), info["generation"])
        if _grows(mismatched) and stored.get("features") == info["features"]:
            write_json(path, info)  # more episodes: full shards stay, a short last one is written again
            return info
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


def _grows(mismatched: list[tuple[str, Any, Any]]) -> bool:
    """Whether the only difference is a larger episode count (a dataset grown, not a different one)."""
    return (len(mismatched) == 1 and mismatched[0][0] == "episodes" and isinstance(mismatched[0][1], int)
            and isinstance(mismatched[0][2], int) and mismatched[0][2] > mismatched[0][1])


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
    new_frames: int = 0
    info: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def frames_per_second(self) -> float:
        """Frames generated by this call (not those resumed) per second."""
        return self.new_frames / self.seconds if self.seconds else 0.0


def finish_info(root: str | Path, info: dict[str, Any], totals: dict[str, Any]) -> dict[str, Any]:
    """Mark the dataset complete with its totals and statistics."""
    done = {**info, **totals, "complete": True}
    write_json(info_path(root), done)
    return done
