"""Offline teacher outputs: a model teacher's logits stored as a dataset column.

``add_teacher_outputs(dataset_dir, teacher)`` runs the teacher once over every
frame's observation and writes its outputs into each data shard as the
column ``teacher.logits`` (each shard rewritten atomically); ``meta/info.json``
gains the feature and a ``teacher_outputs`` entry naming the teacher. A
student can then be distilled from the dataset without running the teacher
again (:func:`teacher_outputs`). Privileged experts need ``info``, which a
dataset does not keep: their actions are the dataset's ``action`` column when
they generated it.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import pyarrow as pa

from tutelage.data import Dataset
from tutelage.data.parquet import read_table
from tutelage.data.layout import info_path
from tutelage.data.writer import write_parquet
from tutelage.errors import DataError
from tutelage.fileio import write_json
from tutelage.methods.bc import observation_columns_of, observation_matrix
from tutelage.methods.collapse_guard import policy_provenance
from tutelage.methods.kd import teacher_logits
from tutelage.methods.lineage import teacher_id

COLUMN = "teacher.logits"


def add_teacher_outputs(dataset: str | os.PathLike | Dataset, teacher: Any, *, column: str = COLUMN) -> dict[str, Any]:
    """Label every frame with ``teacher``'s logits in ``column``; returns the updated ``info``."""
    data = dataset if isinstance(dataset, Dataset) else Dataset(dataset)
    if not data.info.get("complete", False):
        raise DataError(f"{data.root}: dataset is not complete (meta/info.json 'complete' is false); finish generating first")
    observations = observation_columns_of(data)
    width = None
    for path in data.files:
        table = read_table(path)
        arrays = data.to_numpy(table.select(observations))
        logits = teacher_logits(teacher, observation_matrix(arrays, observations))
        width = logits.shape[1]
        values = pa.FixedSizeListArray.from_arrays(pa.array(logits.ravel()), width)
        if column in table.column_names:
            table = table.drop_columns([column])
        write_parquet(path, table.append_column(column, values))
    info = dict(data.info)
    info["features"] = {**info.get("features", {}), column: {"dtype": "float32", "shape": [width], "names": None}}
    labels = {"teacher": teacher_id(teacher), "synthetic_depth": policy_provenance(teacher)["synthetic_depth"]}
    info["teacher_outputs"] = {**info.get("teacher_outputs", {}), column: labels}
    write_json(info_path(data.root), info)
    return info


def teacher_outputs(dataset: str | os.PathLike | Dataset, *, column: str = COLUMN) -> tuple[np.ndarray, np.ndarray, str | None]:
    """``(X, logits, teacher id)`` from a labelled dataset, observations flattened in sorted column order."""
    data = dataset if isinstance(dataset, Dataset) else Dataset(dataset)
    recorded = (data.info.get("teacher_outputs") or {}).get(column)
    if recorded is None:
        raise DataError(f"{data.root}: no offline teacher outputs in column {column!r} (see add_teacher_outputs)")
    observations = observation_columns_of(data)
    arrays = data.to_arrays([*observations, column])
    n = len(arrays[column])
    return observation_matrix(arrays, observations), np.asarray(arrays[column], np.float32).reshape(n, -1), recorded.get("teacher")
