"""Knowledge distillation (Hinton, Vinyals & Dean 2015).

The student learns the teacher's temperature-softened outputs:
``α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1 − α)·CE(s, y)`` (the core's
:class:`tutelage.nn.losses.Distillation`). The transfer set is the training
inputs plus, optionally, extra inputs the teacher labels itself (augmented or
synthetic: their hard label is the teacher's arg-max). Teacher logits may be
given precomputed (offline, e.g. a dataset's ``teacher.logits`` column), so
the teacher need not run again.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tutelage.errors import DataError, SpecError
from tutelage.methods.bc import train_supervised
from tutelage.methods.lineage import Derivation, parent_id, teacher_id


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` (computed in float64, returned as float32)."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def model_logits(model: Any, X: np.ndarray) -> np.ndarray:
    """A model's logits for a batch: its outputs, or their log when the model ends in a softmax.

    A final log-softmax already gives logits (up to a constant per row, which
    no softmax sees).
    """
    out = np.asarray(model(np.ascontiguousarray(X, dtype=np.float32)), dtype=np.float32).reshape(len(X), -1)
    if model.spec["layers"][-1]["type"] == "softmax":
        return np.log(np.maximum(out, np.float32(1e-30)))
    return out


def teacher_logits(teacher: Any, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Logits of a teacher (anything with ``.logits``) or a model for a batch, computed in chunks."""
    compute = teacher.logits if hasattr(teacher, "logits") else (lambda part: model_logits(teacher, part))
    parts = [compute(X[i:i + batch_size]) for i in range(0, len(X), batch_size)]
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, 0), np.float32)


def distill(
    teacher: Any,
    X: np.ndarray,
    y: np.ndarray | None,
    student: Any,
    *,
    temperature: float = 4.0,
    alpha: float = 0.9,
    transfer: np.ndarray | None = None,
    logits: np.ndarray | None = None,
    dataset: str | None = None,
    epochs: int = 100,
    **train_options: Any,
) -> tuple[Any, Derivation]:
    """Distill ``teacher`` into ``student`` on ``X`` (labels ``y``) plus the ``transfer`` inputs.

    ``teacher`` is a model, a model teacher, or None when ``logits`` (one row
    per row of ``X`` then ``transfer``) are given offline. ``y=None`` uses the
    teacher's arg-max everywhere (a purely teacher-labelled transfer set).
    ``train_options`` go to :func:`~tutelage.methods.bc.train_supervised`
    (batch_size, lr, seed, validation, early_stopping, quiet).
    Returns ``(student, derivation)``; the derivation names the teacher as
    parent (or the student itself when it was loaded from a file).
    """
    if teacher is None and logits is None:
        raise SpecError("distill needs a teacher or precomputed teacher logits")
    X = np.ascontiguousarray(X, dtype=np.float32)
    inputs = X if transfer is None else np.concatenate([X, np.asarray(transfer, dtype=np.float32).reshape(-1, *X.shape[1:])])
    t_logits = np.asarray(logits, dtype=np.float32) if logits is not None else teacher_logits(teacher, inputs)
    if len(t_logits) != len(inputs):
        raise DataError(f"{len(t_logits)} teacher logit rows for {len(inputs)} transfer inputs")
    labels = np.argmax(t_logits, axis=1).astype(np.int64)
    if y is not None:
        if len(y) != len(X):
            raise DataError(f"{len(y)} labels for {len(X)} inputs")
        labels[: len(X)] = np.asarray(y, dtype=np.int64)
    from tutelage import nn

    loss = nn.losses.Distillation(temperature=temperature, alpha=alpha)
    history = train_supervised(student, inputs, (t_logits, labels), loss=loss, epochs=epochs, **train_options)
    teacher_name = teacher_id(teacher) if teacher is not None else None
    derivation = Derivation(
        "kd", parent=parent_id(student, teacher), teacher=teacher_name,
        dataset=dataset or "arrays", history=[history],
        metrics={"temperature": float(temperature), "alpha": float(alpha), "transfer_samples": int(len(inputs))},
    )
    return student, derivation
