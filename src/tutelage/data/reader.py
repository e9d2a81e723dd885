"""Reading a dataset back as numpy arrays: whole columns, episodes, or batches.

The files are plain Parquet, so pyarrow, pandas and ``ray.data.read_parquet``
open them too; this reader adds the shapes from ``meta/info.json``.

It validates before it trusts: every shard that ``meta/info.json`` implies
must be present, readable, in the declared schema and hold the declared
episodes and frames; an unfinished generation (``complete = false``) is
refused unless ``allow_incomplete=True``. Every failure is one
:class:`~tutelage.errors.DatasetError` naming the dataset, the shard and what
is wrong.
"""
from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tutelage.data.features import DEPTH_COLUMN, IMAGE_COLUMN
from tutelage.data.parquet import read_table
from tutelage.data.layout import FILES_PER_CHUNK, data_path, episodes_path, info_path, shard_count, shard_episodes
from tutelage.data.provenance import check_info, read_info, row_provenance
from tutelage.errors import DataError, DatasetError, os_reason
from tutelage.fileio import open_regular

_ARROW_NAMES = {"float32": "float", "float64": "double"}  # numpy dtype names in info.json → Arrow's
#: columns of each episodes file the reader relies on (the episode's index and length, where its frames are)
EPISODE_COLUMNS = ("episode_index", "length", "data/chunk_index", "data/file_index", "dataset_from_index",
                   "dataset_to_index")


def _shard_files(root: Path, folder: str) -> list[Path]:
    return sorted((root / folder).glob("chunk-*/file-*.parquet"))


def read_episodes_meta(root: str | Path) -> pa.Table:
    """One row per episode (length, seeds, return, success, scenario JSON, file and index range)."""
    files = _shard_files(Path(root), "meta/episodes")
    if not files:
        raise DataError(f"{root}: no episodes written yet (meta/episodes is empty)")
    return pa.concat_tables(read_parquet(root, path) for path in files)


def _fail(root: str | Path, path: Path, what: str) -> DatasetError:
    try:
        where = path.relative_to(root).as_posix()
    except ValueError:
        where = str(path)
    return DatasetError(f"dataset {root}: {where}: {what}")


@contextlib.contextmanager
def _reading(root: str | Path, path: Path) -> Iterator[Any]:
    """An open handle on a dataset file; any failure reading it is a :class:`DatasetError` naming dataset and file."""
    try:
        with open_regular(path) as handle:
            yield handle
    except FileNotFoundError:
        raise _fail(root, path, "file is missing") from None
    except OSError as exc:
        raise _fail(root, path, f"cannot read: {os_reason(exc)}") from None
    except (pa.ArrowException, ValueError) as exc:
        raise _fail(root, path, f"not readable Parquet (truncated or corrupted?): {exc}") from None


def read_parquet(root: str | Path, path: Path, columns: Sequence[str] | None = None) -> pa.Table:
    """The table in ``path``; any failure is a :class:`DatasetError` naming dataset and file.

    Page checksums are verified where the file has them (written with ``write_page_checksum=True``).
    """
    with _reading(root, path) as handle:
        return read_table(handle, columns, verify_checksums=True)


def _read_metadata(root: str | Path, path: Path) -> pq.FileMetaData:
    with _reading(root, path) as handle:
        return pq.read_metadata(handle)


def _type_matches(arrow_type: pa.DataType, feature: dict[str, Any]) -> bool:
    """Whether a column's Arrow type stores ``feature`` (dtype and shape from ``meta/info.json``)."""
    size = int(np.prod(feature["shape"], dtype=np.int64))
    dtype = _ARROW_NAMES.get(feature["dtype"], feature["dtype"])
    if pa.types.is_fixed_size_list(arrow_type):
        return arrow_type.list_size == size and str(arrow_type.value_type) == dtype
    if feature["dtype"] == "png":
        return pa.types.is_binary(arrow_type)
    return size == 1 and _list_item(str(arrow_type)) == _list_item(dtype)


def _list_item(type_name: str) -> str:
    """Arrow names a list's item field ``item`` or ``element`` depending on who wrote the file."""
    return type_name.replace("<element:", "<item:")


def verify_shard(root: str | Path, info: dict[str, Any], shard: int) -> int:
    """Check shard ``shard`` against ``info``; return its frame count or raise :class:`DatasetError`.

    Both files must be readable Parquet; the frames file must have exactly the
    declared columns and types, the episodes file the shard's episodes, and
    the frame count must equal the sum of the episode lengths.
    """
    frames_file, episodes_file = data_path(root, shard), episodes_path(root, shard)
    meta = _read_metadata(root, frames_file)
    schema = meta.schema.to_arrow_schema()
    features = info["features"]
    missing = [name for name in features if name not in schema.names]
    unexpected = [name for name in schema.names if name not in features]
    if missing or unexpected:
        raise _fail(root, frames_file, f"columns differ from meta/info.json (missing {missing}, unexpected {unexpected})")
    for item in schema:
        if not _type_matches(item.type, features[item.name]):
            raise _fail(root, frames_file, f"column {item.name!r} is {item.type}, meta/info.json declares "
                                           f"{features[item.name]['dtype']} of shape {features[item.name]['shape']}")
    episodes_meta = _read_metadata(root, episodes_file)
    names = episodes_meta.schema.to_arrow_schema().names
    missing = [n for n in EPISODE_COLUMNS if n not in names]
    if missing:  # a world's declared metrics may add columns
        raise _fail(root, episodes_file, f"columns {missing} are missing")
    generation = info["generation"]
    wanted = len(shard_episodes(shard, generation["episodes"], generation["episodes_per_shard"]))
    if episodes_meta.num_rows != wanted:
        raise _fail(root, episodes_file, f"holds {episodes_meta.num_rows} episodes, the shard has {wanted}")
    lengths = read_parquet(root, episodes_file, columns=["length"]).column("length").to_numpy()
    if meta.num_rows != int(lengths.sum()):
        raise _fail(root, frames_file, f"holds {meta.num_rows} frames, its episodes add up to {int(lengths.sum())}")
    return meta.num_rows


def verified_prefix(root: str | Path, shards: int) -> tuple[int, int]:
    """``(k, frames)``: shards ``0..k-1`` are present and pass :func:`verify_shard`; they hold ``frames`` frames.

    What a resumed generation keeps: the first missing, broken or short shard and those after it are written again.
    """
    try:
        info = read_info(root)
        check_info(info, info_path(root))
    except DatasetError:
        return 0, 0
    frames = 0
    for shard in range(shards):
        try:
            frames += verify_shard(root, info, shard)
        except DatasetError:
            return shard, frames
    return shards, frames


def concat(datasets: Sequence[Dataset], columns: Sequence[str]) -> dict[str, np.ndarray]:
    """``columns`` of several datasets, their frames one after another, plus each frame's ``synthetic_depth``
    (so :func:`~tutelage.data.provenance.row_provenance` of the result is the mix's share and depth)."""
    wanted = [name for name in columns if name != DEPTH_COLUMN]
    parts = [{**dataset.to_arrays(wanted), DEPTH_COLUMN: dataset.synthetic_depths()} for dataset in datasets]
    return {name: np.concatenate([part[name] for part in parts]) for name in [*wanted, DEPTH_COLUMN]}


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

    def __init__(self, root: str | Path, *, allow_incomplete: bool = False):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: not a dataset directory")
        self.info: dict[str, Any] = read_info(self.root)
        check_info(self.info, info_path(self.root))
        self.features: dict[str, dict[str, Any]] = self.info["features"]
        self._frames = self._verify(allow_incomplete)
        self.files = [data_path(self.root, shard) for shard in range(len(self._frames))]
        self._meta: pa.Table | None = None

    def _verify(self, allow_incomplete: bool) -> list[int]:
        """Frames per shard, every shard checked; an incomplete dataset only with ``allow_incomplete``."""
        generation = self.info["generation"]
        shards = shard_count(generation["episodes"], generation["episodes_per_shard"])
        if not self.info["complete"]:
            if not allow_incomplete:
                raise DatasetError(f"dataset {self.root}: not complete (meta/info.json: complete = false; its generation "
                                   "stopped early); run the same `tutelage generate` again to finish it, or pass "
                                   "--allow-incomplete (allow_incomplete=True) to use the shards written so far")
            shards = next((s for s in range(shards) if not data_path(self.root, s).exists()), shards)
            if shards == 0:
                raise DatasetError(f"dataset {self.root}: no data files yet (data/chunk-*/file-*.parquet)")
        frames = [verify_shard(self.root, self.info, shard) for shard in range(shards)]
        if self.info["complete"]:
            path = info_path(self.root)
            if sum(frames) != self.info["total_frames"]:
                raise DatasetError(f"{path}: field 'total_frames' is {self.info['total_frames']}, "
                                   f"the shards hold {sum(frames)}")
            if shards and self.info["total_episodes"] != self.info["generation"]["episodes"]:
                raise DatasetError(f"{path}: field 'total_episodes' is {self.info['total_episodes']}, "
                                   f"field 'generation.episodes' is {self.info['generation']['episodes']}")
        return frames

    def __repr__(self) -> str:
        return f"Dataset({str(self.root)!r}, episodes={self.num_episodes}, frames={len(self)})"

    def __len__(self) -> int:
        return sum(self._frames)

    @property
    def meta(self) -> pa.Table:
        """The per-episode table (``meta/episodes``)."""
        if self._meta is None:
            self._meta = pa.concat_tables(read_parquet(self.root, episodes_path(self.root, shard))
                                          for shard in range(len(self.files)))
        return self._meta

    @property
    def num_episodes(self) -> int:
        return self.meta.num_rows

    @property
    def columns(self) -> list[str]:
        return _read_metadata(self.root, self.files[0]).schema.to_arrow_schema().names

    def _check_columns(self, columns: Sequence[str] | None) -> list[str] | None:
        if columns is None:
            return None
        available = self.columns
        missing = [name for name in columns if name not in available]
        if missing:
            raise DataError(f"{self.root}: no column {missing[0]!r} (columns: {', '.join(available)})")
        return list(columns)

    def synthetic_depths(self) -> np.ndarray:
        """Every frame's synthetic depth (0: ground truth). A dataset written before frames carried their
        depth gives its model-made episodes (``synthetic_frames``) the depth in ``meta/info.json`` (1 when absent)."""
        if DEPTH_COLUMN in self.features:
            return self.table([DEPTH_COLUMN]).column(DEPTH_COLUMN).to_numpy().astype(np.int64)
        depth = self.info.get("synthetic_depth")
        depth = depth if isinstance(depth, int) and not isinstance(depth, bool) and depth > 0 else 1
        synthetic = self.meta.column("synthetic_frames").to_numpy() > 0
        return np.repeat(np.where(synthetic, depth, 0), self.meta.column("length").to_numpy()).astype(np.int64)

    def provenance(self) -> dict[str, Any]:
        """Share of synthetic frames, the deepest frame and frames per depth, from the frames themselves."""
        return row_provenance(self.synthetic_depths())

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
        return pa.concat_tables(read_parquet(self.root, path, columns=columns) for path in self.files)

    def to_arrays(self, columns: Sequence[str] | None = None, decode_images: bool = False) -> dict[str, np.ndarray]:
        """Whole columns over every frame: ``ds.to_arrays(["observation.state", "action"])``."""
        return self.to_numpy(self.table(columns), decode_images)

    def episode(self, index: int, columns: Sequence[str] | None = None, decode_images: bool = False) -> dict[str, np.ndarray]:
        """The frames of episode ``index``."""
        rows = self.meta.filter(pc.equal(self.meta.column("episode_index"), index))
        if rows.num_rows == 0:
            raise DataError(f"{self.root}: no episode {index} (dataset has {self.num_episodes})")
        shard = rows.column("data/chunk_index")[0].as_py() * FILES_PER_CHUNK + rows.column("data/file_index")[0].as_py()
        if not 0 <= shard < len(self.files):
            raise DatasetError(f"dataset {self.root}: meta/episodes: episode {index} points at shard {shard}, "
                               f"the dataset has {len(self.files)}")
        wanted = self._check_columns(columns)
        read = None if wanted is None else sorted(set(wanted) | {"episode_index"})
        table = read_parquet(self.root, data_path(self.root, shard), columns=read)
        table = table.filter(pc.equal(table.column("episode_index"), index))
        return self.to_numpy(table if wanted is None else table.select(wanted), decode_images)

    def episodes(self, columns: Sequence[str] | None = None, decode_images: bool = False) -> Iterator[dict[str, np.ndarray]]:
        """Every episode in order, one file read at a time."""
        wanted = self._check_columns(columns)
        read = None if wanted is None else sorted(set(wanted) | {"episode_index"})
        for path in self.files:
            table = read_parquet(self.root, path, columns=read)
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
