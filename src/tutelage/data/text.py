"""Text datasets: one Parquet file of documents (``split``, ``name``, ``text``) with provenance in its metadata.

The built-in corpus needs no network: the topics of Python's own
``pydoc_data/topics.py`` (about 465,000 characters of English documentation),
split into train / validation / test by topic, so no topic straddles two splits.
Any text file, or a text column of a Parquet file, can be read as well.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "pydoc.parquet"
>>> info = write_pydoc_corpus(path, seed=0)
>>> corpus = read_corpus(path)
>>> sorted(corpus.splits) == ["test", "train", "validation"] and len(corpus.splits["train"]) > 300_000
True
"""
from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tutelage.data.parquet import read_table
from tutelage.data.provenance import software_versions
from tutelage.errors import DatasetError
from tutelage.fileio import atomic_path

SPLITS = ("train", "validation", "test")
FORMAT = "tutelage-text-1"
SEPARATOR = "\n\n"


@dataclass
class TextCorpus:
    """Each split's documents joined by a blank line, and the provenance written with them."""

    splits: dict[str, str]
    provenance: dict[str, Any]


def pydoc_topics() -> tuple[dict[str, str], dict[str, Any]]:
    """The documentation topics of this Python, and where they came from."""
    import pydoc_data.topics as module

    source = Path(module.__file__)
    return dict(module.topics), {"source": "pydoc_data/topics.py", "python": sys.version.split()[0],
                                 "sha256": hashlib.sha256(source.read_bytes()).hexdigest()}


def split_documents(names: list[str], seed: int, fractions: tuple[float, float] = (0.8, 0.1)) -> dict[str, str]:
    """Document name → split: a seeded shuffle of the sorted names, cut by the train and validation fractions."""
    order = sorted(names)
    np.random.default_rng(seed).shuffle(order)
    n_train = round(fractions[0] * len(order))
    n_val = max(1, round(fractions[1] * len(order)))
    return {name: SPLITS[0 if i < n_train else 1 if i < n_train + n_val else 2] for i, name in enumerate(order)}


def write_corpus(path: str | Path, documents: dict[str, str], *, seed: int = 0, source: dict[str, Any] | None = None,
                 fractions: tuple[float, float] = (0.8, 0.1)) -> dict[str, Any]:
    """Write ``documents`` (name → text) split by document; returns the provenance stored in the file."""
    if len(documents) < 3:
        raise DatasetError(f"{path}: a text corpus needs at least 3 documents to split, got {len(documents)}")
    split = split_documents(list(documents), seed, fractions)
    names = sorted(documents, key=lambda n: (SPLITS.index(split[n]), n))
    provenance = {
        "format": FORMAT, "source": dict(source or {}), "seed": seed, "fractions": list(fractions),
        "split_rule": "seeded shuffle of sorted document names (numpy default_rng(seed).shuffle)",
        "characters": {s: sum(len(documents[n]) for n in names if split[n] == s) for s in SPLITS},
        "documents": {s: sum(split[n] == s for n in names) for s in SPLITS},
        "versions": software_versions(),
    }
    table = pa.table({"split": [split[n] for n in names], "name": names, "text": [documents[n] for n in names]})
    table = table.replace_schema_metadata({"tutelage": json.dumps(provenance, sort_keys=True)})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return provenance


def write_pydoc_corpus(path: str | Path, *, seed: int = 0) -> dict[str, Any]:
    """The Python documentation topics as a split text corpus at ``path``."""
    documents, source = pydoc_topics()
    return write_corpus(path, documents, seed=seed, source=source)


def pydoc_splits(seed: int = 0) -> dict[str, str]:
    """The pydoc corpus's splits, written to and read back from a temporary Parquet file."""
    with tempfile.TemporaryDirectory() as tmp:
        write_pydoc_corpus(Path(tmp) / "pydoc.parquet", seed=seed)
        return read_corpus(Path(tmp) / "pydoc.parquet").splits


def _table(path: Path) -> pa.Table:
    try:
        return read_table(path)
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except (pa.ArrowInvalid, OSError, KeyError) as exc:
        raise DatasetError(f"{path}: not a readable Parquet file: {exc}") from None


def _strings(path: Path, table: pa.Table, column: str) -> list[str]:
    if column not in table.column_names:
        raise DatasetError(f"{path}: no column {column!r} (columns: {', '.join(table.column_names)})")
    if not pa.types.is_string(table.schema.field(column).type) and not pa.types.is_large_string(
            table.schema.field(column).type):
        raise DatasetError(f"{path}: column {column!r} holds {table.schema.field(column).type}, not text")
    return [value or "" for value in table.column(column).to_pylist()]


def read_corpus(path: str | Path) -> TextCorpus:
    """A corpus written by :func:`write_corpus`."""
    path = Path(path)
    table = _table(path)
    metadata = (table.schema.metadata or {}).get(b"tutelage")
    if metadata is None:
        raise DatasetError(f"{path}: no tutelage provenance in the file metadata (not a text corpus?)")
    splits, texts = _strings(path, table, "split"), _strings(path, table, "text")
    unknown = set(splits) - set(SPLITS)
    if unknown:
        raise DatasetError(f"{path}: field 'split' holds {sorted(unknown)}, expected {list(SPLITS)}")
    joined = {s: SEPARATOR.join(t for sp, t in zip(splits, texts) if sp == s) for s in SPLITS}
    return TextCorpus(joined, json.loads(metadata))


def read_text(path: str | Path, column: str | None = None) -> str:
    """A plain UTF-8 text file, or the rows of Parquet ``column`` joined by a blank line."""
    path = Path(path)
    if column is not None or path.suffix == ".parquet":
        if column is None:
            raise DatasetError(f"{path}: name the text column of this Parquet file")
        return SEPARATOR.join(_strings(path, _table(path), column))
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text (byte {exc.start})") from None
