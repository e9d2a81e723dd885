"""Writing shards: frames and per-episode metadata as Parquet, each file atomically.

A shard counts as finished once both its frames file and its episodes file
exist; the frames file is written first, so a kill between the two only
makes the next run write that shard again.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tutelage.data.features import DEPTH_COLUMN, Features, json_default
from tutelage.data.layout import FILES_PER_CHUNK, data_path, episodes_path
from tutelage.fileio import atomic_path
from tutelage.sim.metrics import Metric



@dataclass
class EpisodeRecord:
    """One played episode: per-frame values by column, and per-episode metadata."""

    columns: dict[str, list[Any]]
    meta: dict[str, Any] = field(default_factory=dict)


#: per-episode columns every dataset has; a world's declared metrics follow them
CORE_EPISODE_FIELDS = [
    pa.field("episode_index", pa.int64()),
    pa.field("length", pa.int64()),
    pa.field("env_seed", pa.int64()),
    pa.field("policy_seed", pa.int64()),
    pa.field("return", pa.float64()),
    pa.field("success", pa.bool_()),
    pa.field("edge_case", pa.string()),
    pa.field("scenario", pa.string()),  # JSON: the exact scenario the world played
    pa.field("synthetic_frames", pa.int64()),
    pa.field(DEPTH_COLUMN, pa.int64()),  # the depth of every frame of the episode
]


def episodes_schema(metrics: Sequence[Metric] = ()) -> pa.Schema:
    """The episodes table's schema: the core columns, then one column per episode metric of the world
    (a flag as bool, a count of onsets as int64, anything else float64)."""
    types = {"any": pa.bool_(), "onsets": pa.int64()}
    extra = [pa.field(m.name, types.get(m.reduce, pa.float64())) for m in metrics if m.ratio is None]
    return pa.schema([*CORE_EPISODE_FIELDS, *extra])


def frames_table(records: Sequence[EpisodeRecord], features: Features, fps: float) -> pa.Table:
    """The frames of ``records`` in the dataset schema, without the global ``index`` column."""
    schema = features.schema()
    array_columns = {column.name: column for column in [*features.observations, features.action]}
    arrays = []
    for item in schema:
        if item.name == "index":
            continue
        if item.name == "timestamp":
            frame_index = np.concatenate([np.asarray(r.columns["frame_index"], dtype=np.float64) for r in records])
            arrays.append(pa.array((frame_index / fps).astype(np.float32)))
            continue
        if item.name == DEPTH_COLUMN:
            arrays.append(pa.array(np.concatenate([np.full(len(r.columns["frame_index"]), r.meta.get(DEPTH_COLUMN, 0),
                                                           dtype=np.int64) for r in records])))
            continue
        values = [value for record in records for value in record.columns[item.name]]
        if item.name in array_columns:
            arrays.append(array_columns[item.name].encode(values))
        else:
            arrays.append(pa.array(values, type=item.type))
    return pa.Table.from_arrays(arrays, schema=schema.remove(schema.get_field_index("index")))


def episodes_table(records: Sequence[EpisodeRecord], metrics: Sequence[Metric] = ()) -> pa.Table:
    rows = [{**r.meta, "scenario": json.dumps(r.meta["scenario"], sort_keys=True, default=json_default)} for r in records]
    return pa.Table.from_pylist(rows, schema=episodes_schema(metrics))


def write_parquet(path: Path, table: pa.Table) -> None:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", write_page_checksum=True)


def commit_shard(root: str | Path, shard: int, frames: pa.Table, episodes: pa.Table, index_offset: int) -> int:
    """Number the frames from ``index_offset``, write the shard; return its frame count."""
    count = frames.num_rows
    frames = frames.add_column(2, "index", pa.array(np.arange(index_offset, index_offset + count, dtype=np.int64)))
    ends = index_offset + np.cumsum(episodes.column("length").to_numpy())
    starts = np.concatenate([[index_offset], ends[:-1]]).astype(np.int64)
    n = episodes.num_rows
    episodes = (episodes
                .append_column("data/chunk_index", pa.array(np.full(n, shard // FILES_PER_CHUNK, dtype=np.int64)))
                .append_column("data/file_index", pa.array(np.full(n, shard % FILES_PER_CHUNK, dtype=np.int64)))
                .append_column("dataset_from_index", pa.array(starts))
                .append_column("dataset_to_index", pa.array(ends.astype(np.int64))))
    write_parquet(data_path(root, shard), frames)
    write_parquet(episodes_path(root, shard), episodes)
    return count


def remove_temporaries(root: str | Path) -> int:
    """Delete temporary files that a killed writer left behind; return how many."""
    stray = list(Path(root).rglob(".tmp-*"))
    for path in stray:
        path.unlink(missing_ok=True)
    return len(stray)


def finished_prefix(root: str | Path, shards: int) -> tuple[int, int]:
    """``(k, frames)``: shards ``0..k-1`` are complete on disk, in the declared schema and row counts, and hold
    ``frames`` frames (see :func:`tutelage.data.reader.verified_prefix`)."""
    from tutelage.data.reader import verified_prefix

    return verified_prefix(root, shards)
