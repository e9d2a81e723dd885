"""Lineage of derived models: who taught whom, on what, by which method.

Every method returns a :class:`Derivation` beside the trained model; saving
through :func:`save_derived` writes its ``parent``, ``method``, ``dataset``
and ``teacher`` into the safetensors metadata, so a model's family tree can be
drawn from the files alone. A derivation also records ``data_depth``, the
synthetic depth of the data the model was trained on (0: ground truth), so
data the model generates is one deeper, and ``collapse_guard``, the verdict of
the :class:`~tutelage.methods.collapse_guard.CollapseGuard` on that data.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LINEAGE_KEYS = ("parent", "method", "dataset", "teacher")
PROVENANCE_KEYS = ("data_depth", "collapse_guard")  # recorded when known


def model_id(obj: Any) -> str | None:
    """The id of a loaded model (``model.info["id"]``), a model teacher or a quantized model; else None."""
    for candidate in (obj, getattr(obj, "model", None)):
        info = getattr(candidate, "info", None)
        if isinstance(info, Mapping) and info.get("id"):
            return str(info["id"])
    return None


def parent_id(student: Any, teacher: Any = None) -> str | None:
    """The parent of a derived model: the student's own id when it was loaded (fine-tuning), else the teacher model's."""
    return model_id(student) or (model_id(teacher) if teacher is not None else None)


def teacher_id(teacher: Any) -> str | None:
    """How a teacher is named in lineage: its model id, else its registered name."""
    if teacher is None:
        return None
    name = getattr(teacher, "name", None) or getattr(teacher, "__name__", None) or type(teacher).__name__
    return model_id(teacher) or str(name)


@dataclass
class Derivation:
    """How a model was made: the lineage fields, the training history and headline metrics."""

    method: str
    parent: str | None = None
    teacher: str | None = None
    dataset: str | None = None
    history: list[Any] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    data_depth: int | None = None
    collapse_guard: dict[str, Any] | None = None

    @property
    def lineage(self) -> dict[str, Any]:
        known = {key: getattr(self, key) for key in PROVENANCE_KEYS if getattr(self, key) is not None}
        return {**{key: getattr(self, key) for key in LINEAGE_KEYS}, **known}

    def guarded(self, verdict: Any, depth: int) -> Derivation:
        """Record the guard's verdict on the training data and that data's synthetic depth; return self."""
        self.collapse_guard, self.data_depth = verdict.as_dict(), int(depth)
        return self

    def as_dict(self) -> dict[str, Any]:
        return {**self.lineage, "metrics": dict(self.metrics)}


def save_derived(
    model: Any,
    path: str | os.PathLike,
    derivation: Derivation,
    *,
    model_type: str = "mlp",
    metadata: Mapping[str, Any] | None = None,
) -> str:
    """Save ``model`` with its lineage (atomically, as safetensors); return the new model id.

    The model's own metadata (``model.info["metadata"]``, e.g. its
    ``observation_history``) is kept, under the given ``metadata``.
    """
    merged = {**((getattr(model, "info", None) or {}).get("metadata") or {}), **dict(metadata or {})}
    if hasattr(model, "save"):  # quantized models carry their own format
        return model.save(path, model_type=model_type, lineage=derivation.lineage, metadata=merged)
    from tutelage import nn

    return nn.save(model, path, model_type=model_type, lineage=derivation.lineage, metadata=merged)


def read_lineage(path: str | os.PathLike) -> dict[str, Any]:
    """The lineage stored in a model file (float or int8): parent, method, dataset, teacher (and data_depth,
    collapse_guard when recorded)."""
    from tutelage import nn

    return dict(nn.load(path).info.get("lineage") or {})
