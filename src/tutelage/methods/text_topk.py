"""Offline token-level KD: the teacher LM runs once over a text and its top-k logits are stored in Parquet.

:func:`write_topk_targets` reads the token stream in consecutive windows of
the teacher's context and stores, for every position ``j``, the ``k`` largest
raw logits (no temperature) of the teacher's prediction of token ``j + 1`` and
their token ids, with provenance (teacher id, ``k``, the corpus) in the file
metadata. :func:`read_topk_targets` gives :class:`TopKTargets`, which
:meth:`tutelage.nn.language.LanguageModel.fit` accepts as its ``teacher``: the
soft targets are then ``softmax(logits / T)`` over the stored top-k,
renormalized, the rest of the vocabulary getting zero mass. A student window
that straddles two of the teacher's windows sees, at each position, what the
teacher predicted from its own window, not from the student's.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tutelage.data.provenance import software_versions
from tutelage.errors import DataError, DatasetError
from tutelage.fileio import atomic_path
from tutelage.methods.collapse_guard import policy_provenance
from tutelage.nn.language import LanguageModel, Tokenizer

FORMAT = "tutelage-text-topk-1"


@dataclass
class TopKTargets:
    """A teacher's stored top-k next-token logits over a token stream (``tokens``: n; ``ids``, ``logits``: n − 1 × k)."""

    tokens: np.ndarray
    ids: np.ndarray
    logits: np.ndarray
    provenance: dict[str, Any]

    @property
    def tokenizer(self) -> Tokenizer:
        return Tokenizer(self.provenance["alphabet"])

    @property
    def info(self) -> dict[str, Any]:
        """Dataset info for :func:`tutelage.methods.collapse_guard.soft_label_provenance`: real text, model labels."""
        labels = {"teacher": self.provenance["teacher_id"], "synthetic_depth": self.provenance["label_depth"]}
        return {"name": self.provenance.get("path", "top-k targets"), "teacher_outputs": {"teacher.logits": labels}}

    def logits_at(self, window: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """Dense logits (−inf outside the stored top-k) for windows of the stream starting at ``starts``."""
        positions = starts[:, None] + np.arange(window.shape[1])
        if positions.max() >= len(self.ids) or not np.array_equal(self.tokens[positions], window):
            raise DataError("the training text is not the text the top-k targets were computed on")
        dense = np.full((*window.shape, int(self.provenance["vocab"])), -np.inf, np.float32)
        np.put_along_axis(dense, self.ids[positions].astype(np.int64), self.logits[positions], -1)
        return dense


def teacher_topk(teacher: LanguageModel, ids: np.ndarray, k: int, batch_size: int = 32
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Top-k ids and raw logits (largest first) at every position but the last, over consecutive context windows."""
    t, n = teacher.context, ids.size - 1
    top_ids, top_logits = np.empty((n, k), np.int32), np.empty((n, k), np.float32)
    starts = list(range(0, n, t))
    full = [s for s in starts if s + t <= n]
    groups = [full[i:i + batch_size] for i in range(0, len(full), batch_size)] + [[s] for s in starts if s + t > n]
    for group in groups:
        length = min(t, n - group[0])
        logits = teacher.gpt.forward(np.stack([ids[s:s + length] for s in group]))
        order = np.argsort(-logits, axis=-1, kind="stable")[..., :k]
        for row, s in enumerate(group):
            top_ids[s:s + length] = order[row]
            top_logits[s:s + length] = np.take_along_axis(logits[row], order[row], -1)
    return top_ids, top_logits


def write_topk_targets(teacher: LanguageModel, text: str, path: str | Path, *, k: int = 8,
                       corpus: dict[str, Any] | None = None, teacher_id: str | None = None) -> dict[str, Any]:
    """Run ``teacher`` once over ``text`` and write its top-``k`` logits to ``path`` (atomically); returns the
    provenance. ``teacher_id`` defaults to the id of the file the teacher was loaded from; ``corpus`` says where
    ``text`` came from."""
    vocab = teacher.tokenizer.size
    if isinstance(k, bool) or not isinstance(k, int) or not 0 < k <= vocab:
        raise DataError(f"k must be an integer in [1, {vocab}] (the teacher's vocabulary), got {k!r}")
    teacher_id = teacher_id or (getattr(teacher, "info", None) or {}).get("id")
    if not teacher_id:
        raise DataError("the teacher has no id (load it from a file, or pass teacher_id)")
    ids = teacher.tokenizer.encode(text)
    if ids.size < 2:
        raise DataError("the text must hold at least two tokens")
    top_ids, top_logits = teacher_topk(teacher, ids, k)
    provenance = {"format": FORMAT, "teacher_id": teacher_id, "teacher": teacher.config(), "k": k,
                  "logits": "raw (before any temperature)", "alphabet": teacher.tokenizer.alphabet, "vocab": vocab,
                  "context": teacher.context, "positions": int(ids.size - 1), "corpus": dict(corpus or {}),
                  "label_depth": policy_provenance(teacher)["synthetic_depth"] or 1, "versions": software_versions()}
    table = pa.table({
        "token": pa.array(ids[:-1].astype(np.int32)), "next": pa.array(ids[1:].astype(np.int32)),
        "top_ids": pa.FixedSizeListArray.from_arrays(pa.array(top_ids.reshape(-1)), k),
        "top_logits": pa.FixedSizeListArray.from_arrays(pa.array(top_logits.reshape(-1)), k),
    }).replace_schema_metadata({"tutelage": json.dumps(provenance, sort_keys=True)})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return provenance


def read_topk_targets(path: str | Path, *, teacher_id: str | None = None) -> TopKTargets:
    """Targets written by :func:`write_topk_targets`; with ``teacher_id``, they must come from that teacher."""
    path = Path(path)
    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise DatasetError(f"{path}: not a readable Parquet file: {exc}") from None
    provenance = json.loads((table.schema.metadata or {}).get(b"tutelage", b"{}"))
    if provenance.get("format") != FORMAT:
        raise DatasetError(f"{path}: field 'format' is {provenance.get('format')!r}, expected {FORMAT!r}")
    if teacher_id is not None and provenance["teacher_id"] != teacher_id:
        raise DatasetError(f"{path}: field 'teacher_id' is {provenance['teacher_id']!r}, expected {teacher_id!r}")
    missing = {"token", "next", "top_ids", "top_logits"} - set(table.column_names)
    if missing:
        raise DatasetError(f"{path}: missing column(s) {sorted(missing)}")
    k = int(provenance["k"])
    token, after = (table.column(c).to_numpy().astype(np.int64) for c in ("token", "next"))
    top_ids, top_logits = (table.column(c).combine_chunks().flatten().to_numpy().reshape(-1, k)
                           for c in ("top_ids", "top_logits"))
    if len(token) < 1:
        raise DatasetError(f"{path}: no rows")
    return TopKTargets(np.append(token, after[-1]), top_ids, top_logits.astype(np.float32),
                       {**provenance, "path": str(path)})
