"""Reading a dataset back as numpy arrays: whole columns, episodes, or batches.

The files are plain Parquet, so pyarrow, pandas and ``ray.data.read_parquet``
open them too; this reader adds the shapes from ``meta/info.json``.
"""
from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tutelage.data.features import IMAGE_COLUMN
from tutelage.data.layout import FILES_PER_CHUNK, data_path
from tutelage.data.provenance import read_info
from tutelage.errors import DataError


def _shard_files(root: Path, folder: str) -> list[Path]:
    return sorted((root / folder).glob("chunk-*/file-*.parquet"))


def read_episodes_meta(root: str | Path) -> pa.Table:
    """One row per episode (length, seeds, return, success, scenario JSON, file and index range)."""
    files = _shard_files(Path(root), "meta/episodes")
    if not files:
        raise DataError(f"{root}: no episodes written yet (meta/episodes is empty)")
    return pa.concat_tables(pq.read_table(path) for path in files)


def decode_png(data: bytes) -> np.ndarray:
    """A PNG frame of the ``observation.images.rgb`` column as a uint8 (H, W, 3) array."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


class Dataset:
    """A dataset directory written by ``tutelage generate``.

    ``episode(i)`` and ``episodes()`` give dicts of numpy arrays, one entry per
    column, one row per frame; array columns come back in their shape from
    the features (``observation.lidar`` as (T, rays)); ``info`` is ``meta/info.json``.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.info: dict[str, Any] = read_info(self.root)
        self.files = _shard_files(self.root, "data")
        if not self.files:
            raise DataError(f"{self.root}: dataset has no data files yet (data/chunk-*/file-*.parquet)")
        self.features: dict[str, dict[str, Any]] = self.info.get("features", {})
        self._meta: pa.Table | None = None

    def __repr__(self) -> str:
        return f"Dataset({str(self.root)!r}, episodes={self.num_episodes}, frames={len(self)})"

    def __len__(self) -> int:
        return sum(pq.read_metadata(path).num_rows for path in self.files)

    @property
    def meta(self) -> pa.Table:
        """The per-episode table (``meta/episodes``)."""
        if self._meta is None:
            self._meta = read_episodes_meta(self.root)
        return self._meta

    @property
    def num_episodes(self) -> int:
        return self.meta.num_rows

    @property
    def columns(self) -> list[str]:
        return pq.read_schema(self.files[0]).names

    def _check_columns(self, columns: Sequence[str] | None) -> list[str] | None:
        if columns is None:
            return None
        available = self.columns
        missing = [name for name in columns if name not in available]
        if missing:
            raise DataError(f"{self.root}: no column {missing[0]!r} (columns: {', '.join(available)})")
        return list(columns)

    def to_numpy(self, table: pa.Table | pa.RecordBatch, decode_images: bool = False) -> dict[str, np.ndarray]:
        """Columns of ``table`` as numpy arrays shaped by the features."""
        out = {}
        for name, column in zip(table.column_names, table.columns):
            out[name] = self._column_array(name, column, decode_images)
        return out

    def _column_array(self, name: str, column: pa.Array | pa.ChunkedArray, decode_images: bool) -> np.ndarray:
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if pa.types.is_fixed_size_list(column.type):
            shape = tuple(self.features.get(name, {}).get("shape", [column.type.list_size]))
            return column.flatten().to_numpy().reshape(len(column), *shape)
        if name == IMAGE_COLUMN and decode_images:
            return np.stack([decode_png(item) for item in column.to_pylist()]) if len(column) else np.zeros((0, 0, 0, 3), np.uint8)
        if pa.types.is_binary(column.type) or pa.types.is_list(column.type) or pa.types.is_string(column.type):
            values = np.empty(len(column), dtype=object)
            values[:] = column.to_pylist()
            return values
        return column.to_numpy(zero_copy_only=False)

    def table(self, columns: Sequence[str] | None = None) -> pa.Table:
        """Every frame as one Arrow table."""
        columns = self._check_columns(columns)
        return pa.concat_tables(pq.read_table(path, columns=columns) for path in self.files)

    def to_arrays(self, columns: Sequence[str] | None = None, decode_images: bool = False) -> dict[str, np.ndarray]:
        """Whole columns over every frame: ``ds.to_arrays(["observation.state", "action"])``."""
        return self.to_numpy(self.table(columns), decode_images)

    def episode(self, index: int, columns: Sequence[str] | None = None, decode_images: bool = False) -> dict[str, np.ndarray]:
        """The frames of episode ``index``."""
        rows = self.meta.filter(pc.equal(self.meta.column("episode_index"), index))
        if rows.num_rows == 0:
            raise DataError(f"{self.root}: no episode {index} (dataset has {self.num_episodes})")
        shard = rows.column("data/chunk_index")[0].as_py() * FILES_PER_CHUNK + rows.column("data/file_index")[0].as_py()
        table = pq.read_table(data_path(self.root, shard), columns=self._check_columns(columns),
                              filters=[("episode_index", "=", index)])
        return self.to_numpy(table, decode_images)

    def episodes(self, columns: Sequence[str] | None = None, decode_images: bool = False) -> Iterator[dict[str, np.ndarray]]:
        """Every episode in order, one file read at a time."""
        wanted = self._check_columns(columns)
        read = None if wanted is None else sorted(set(wanted) | {"episode_index"})
        for path in self.files:
            table = pq.read_table(path, columns=read)
            episode = table.column("episode_index").to_numpy()
            bounds = np.flatnonzero(np.diff(episode)) + 1
            for start, stop in zip(np.r_[0, bounds], np.r_[bounds, len(episode)]):
                part = table.slice(start, stop - start)
                yield self.to_numpy(part.select(wanted) if wanted is not None else part, decode_images)

    def batches(self, batch_size: int, columns: Sequence[str] | None = None, *, shuffle: bool = False, seed: int = 0,
                drop_last: bool = False, decode_images: bool = False) -> Iterator[dict[str, np.ndarray]]:
        """Batches of ``batch_size`` frames across files; ``shuffle`` permutes frames (seeded)."""
        if batch_size < 1:
            raise DataError(f"batch_size: must be at least 1, got {batch_size}")
        table = self.table(columns)
        order = np.random.default_rng(seed).permutation(table.num_rows) if shuffle else None
        for start in range(0, table.num_rows, batch_size):
            stop = min(start + batch_size, table.num_rows)
            if drop_last and stop - start < batch_size:
                return
            part = table.take(order[start:stop]) if order is not None else table.slice(start, stop - start)
            yield self.to_numpy(part, decode_images)
