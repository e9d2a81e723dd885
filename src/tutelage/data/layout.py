"""Where the files of a dataset live (modelled on LeRobot v3).

::

    DIR/meta/info.json                                  schema, fps, seeds, provenance
    DIR/meta/episodes/chunk-000/file-000.parquet        one row per episode of shard 0
    DIR/data/chunk-000/file-000.parquet                 the frames of shard 0
    DIR/data/chunk-000/file-001.parquet                 ...

A shard holds a fixed number of consecutive episodes; shard ``s`` lives in
chunk ``s // FILES_PER_CHUNK``, file ``s % FILES_PER_CHUNK``. See
``docs/datasets.md`` for the columns.
"""
from __future__ import annotations

from pathlib import Path

FILES_PER_CHUNK = 1000
INFO_FILE = "meta/info.json"
DATA_TEMPLATE = "data/chunk-{chunk:03d}/file-{file:03d}.parquet"
EPISODES_TEMPLATE = "meta/episodes/chunk-{chunk:03d}/file-{file:03d}.parquet"
CODEBASE_VERSION = "v3.0"


def _shard_path(template: str, shard: int) -> str:
    return template.format(chunk=shard // FILES_PER_CHUNK, file=shard % FILES_PER_CHUNK)


def data_path(root: str | Path, shard: int) -> Path:
    """The frames file of ``shard``."""
    return Path(root) / _shard_path(DATA_TEMPLATE, shard)


def episodes_path(root: str | Path, shard: int) -> Path:
    """The per-episode metadata file of ``shard``."""
    return Path(root) / _shard_path(EPISODES_TEMPLATE, shard)


def info_path(root: str | Path) -> Path:
    return Path(root) / INFO_FILE


def shard_count(episodes: int, episodes_per_shard: int) -> int:
    return -(-episodes // episodes_per_shard)


def shard_episodes(shard: int, episodes: int, episodes_per_shard: int) -> range:
    """The episode indices of ``shard``: independent of how many workers run."""
    start = shard * episodes_per_shard
    return range(start, min(start + episodes_per_shard, episodes))
