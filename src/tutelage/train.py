"""``fit``: mini-batch training of a :class:`tutelage.nn.Model` with shuffling, validation and early stopping.

The loop is Python, each step a handful of C calls (forward, loss, backward,
optimizer). A NaN or infinite loss, gradient, parameter (after every step,
the last included) or validation loss stops training with
:class:`~tutelage.errors.NumericalError`, θ restored to the last finite values
and a copy of them on the error; :func:`save_last_good` writes that copy
beside the file the caller meant to write.
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tutelage.errors import DataError, NumericalError
from tutelage.nn import losses as _losses
from tutelage.nn import optim as _optim

Callback = Callable[[Any, int, dict[str, float]], Any]
VALIDATION_BATCH = 1024


@dataclass
class History:
    """What ``fit`` did: one dict per epoch (``epoch``, ``loss``, ``val_loss``, ``val_accuracy``, ``seconds``)."""

    epochs: list[dict[str, float]] = field(default_factory=list)
    stopped_early: bool = False
    best_epoch: int | None = None

    @property
    def loss(self) -> list[float]:
        return [e["loss"] for e in self.epochs]

    @property
    def val_loss(self) -> list[float]:
        return [e["val_loss"] for e in self.epochs if "val_loss" in e]


def _as_targets(Y: Any, n: int, what: str) -> np.ndarray | tuple:
    """Targets as an array or a tuple of arrays (``None`` entries pass through), each with ``n`` rows."""
    if isinstance(Y, tuple):
        return tuple(_as_targets(y, n, what) if y is not None else None for y in Y)
    y = np.asarray(Y)
    if y.dtype.kind == "f" and y.dtype != np.float32:
        y = y.astype(np.float32)
    if y.ndim == 0 or y.shape[0] != n:
        raise DataError(f"{what}: targets have {y.shape[0] if y.ndim else 0} rows for {n} inputs")
    return y


def _take(Y: np.ndarray | tuple, idx: np.ndarray | slice) -> np.ndarray | tuple:
    if isinstance(Y, tuple):
        return tuple(y[idx] if y is not None else None for y in Y)
    return Y[idx]


def _inputs(model: Any, X: Any, what: str) -> np.ndarray:
    X = np.ascontiguousarray(X, dtype=np.float32)
    if X.shape[1:] != tuple(model.input_shape):
        raise DataError(f"{what}: inputs have shape {X.shape}, the model needs (N, {', '.join(map(str, model.input_shape))})")
    return X


def _split(X: np.ndarray, Y: Any, validation: Any, rng: np.random.Generator):
    """(X, Y, Xv, Yv) from ``validation``: None, a fraction, or ``(Xv, Yv)``."""
    if validation is None:
        return X, Y, None, None
    if isinstance(validation, float):
        if not 0.0 < validation < 1.0:
            raise DataError(f"validation fraction must be in (0, 1), got {validation}")
        order = rng.permutation(X.shape[0])
        n_val = max(1, int(round(validation * X.shape[0])))
        val, train = order[:n_val], order[n_val:]
        return X[train], _take(Y, train), X[val], _take(Y, val)
    Xv, Yv = validation
    return X, Y, Xv, Yv


def _labels_of(loss: _losses.Loss, Y: Any) -> np.ndarray | None:
    """Integer labels to score accuracy against, when the loss is a classification loss that has them."""
    if not loss.classification:
        return None
    labels = Y[1] if isinstance(Y, tuple) else Y
    if labels is None or labels.ndim != 1 or labels.dtype.kind not in "iu":
        return None
    return labels


def evaluate(model: Any, X: Any, Y: Any, loss: str | _losses.Loss = "mse") -> dict[str, float]:
    """Mean loss (and accuracy for classification with integer labels) over a dataset, in batches."""
    loss = _losses.get(loss)
    X = _inputs(model, X, "evaluate")
    Y = _as_targets(Y, X.shape[0], "evaluate")
    total, correct = 0.0, 0
    labels = _labels_of(loss, Y)
    for start in range(0, X.shape[0], VALIDATION_BATCH):
        part = slice(start, start + VALIDATION_BATCH)
        pred = model.forward(X[part])
        total += loss(pred, _take(Y, part))[0] * pred.shape[0]
        if labels is not None:
            correct += int(np.count_nonzero(pred.reshape(pred.shape[0], -1).argmax(axis=1) == labels[part]))
    out = {"loss": total / max(X.shape[0], 1)}
    if labels is not None:
        out["accuracy"] = correct / max(X.shape[0], 1)
    return out


class _Progress:
    """A rich progress bar over epochs (nothing when quiet)."""

    def __init__(self, epochs: int, quiet: bool):
        self.bar = None
        if not quiet:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                TextColumn("{task.description}"), transient=False)
            self.task = self.bar.add_task("", total=epochs)
            self.bar.start()

    def update(self, logs: dict[str, float]) -> None:
        if self.bar is not None:
            text = " ".join(f"{k}={v:.4g}" for k, v in logs.items() if k not in ("epoch", "seconds"))
            self.bar.update(self.task, advance=1, description=text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def fit(
    model: Any,
    X: Any,
    Y: Any,
    *,
    loss: str | _losses.Loss = "mse",
    optimizer: str | _optim.Optimizer = "adam",
    lr: float | _optim.Schedule = 1e-3,
    epochs: int = 10,
    batch_size: int = 32,
    validation: None | float | tuple[Any, Any] = None,
    callbacks: Iterable[Callback] = (),
    early_stopping: int | None = None,
    clip_norm: float | None = None,
    seed: int = 0,
    quiet: bool = False,
) -> History:
    """Train ``model`` in place on ``(X, Y)``; returns the :class:`History`.

    ``Y`` is an array or a tuple of arrays batched together (``(teacher_logits,
    labels)`` for distillation). ``validation`` is None, a fraction held out
    (seeded), or ``(Xv, Yv)``. With ``early_stopping=patience``, training stops
    when the validation loss (the training loss without validation) has not
    improved for ``patience`` epochs, and θ is set back to the best epoch's.
    The same ``seed`` gives the same θ bit for bit.
    """
    if epochs < 0 or batch_size < 1:
        raise DataError(f"epochs must be >= 0 and batch_size >= 1, got {epochs} and {batch_size}")
    for name, value in (("lr", lr), ("clip_norm", clip_norm)):
        if isinstance(value, (int, float)) and not math.isfinite(value):
            raise DataError(f"{name} must be a finite number, got {value}")
    loss_fn = _losses.get(loss)
    opt = _optim.get(optimizer, lr)
    rng = np.random.default_rng(seed)
    model.reseed(seed)
    X = _inputs(model, X, "fit")
    Y = _as_targets(Y, X.shape[0], "fit")
    X, Y, Xv, Yv = _split(X, Y, validation, rng)
    if Xv is not None:
        Xv = _inputs(model, Xv, "validation")
        Yv = _as_targets(Yv, Xv.shape[0], "validation")
    n = X.shape[0]
    if n == 0:
        raise DataError("fit: no training samples")
    callbacks = list(callbacks)
    history = History()
    good = model.theta.copy()  # the last θ that was finite and gave a finite loss and gradient
    epoch_good = good.copy()  # the last θ whose epoch (and validation) losses were finite
    best_theta, best, waited = None, math.inf, 0
    progress = _Progress(epochs, quiet)
    try:
        for epoch in range(epochs):
            start = time.perf_counter()
            order = rng.permutation(n)
            total = 0.0
            for first in range(0, n, batch_size):
                where = f"at epoch {epoch}, batch {first // batch_size}"
                idx = order[first:first + batch_size]
                model.zero_grad()
                pred = model.forward(X[idx], training=True)
                value, dpred = loss_fn(pred, _take(Y, idx))
                _stop_unless_finite(model, good, "loss", value, where)
                model.backward(dpred, input_grad=False)
                norm = _optim.grad_norm(model) if clip_norm is None else _optim.clip_grad_norm(model, clip_norm)
                _stop_unless_finite(model, good, "gradient", norm, where)
                opt.step(model)
                if not np.isfinite(model.theta).all():
                    _stop_unless_finite(model, good, "a parameter", math.nan, f"after the step {where}")
                np.copyto(good, model.theta)
                total += value * idx.shape[0]
            logs: dict[str, float] = {"epoch": epoch, "loss": total / n}
            _stop_unless_finite(model, epoch_good, "the epoch's mean loss", logs["loss"], f"at epoch {epoch}")
            if Xv is not None:
                scores = evaluate(model, Xv, Yv, loss_fn)
                _stop_unless_finite(model, epoch_good, "the validation loss", scores["loss"], f"at epoch {epoch}")
                logs.update({f"val_{k}": v for k, v in scores.items()})
            np.copyto(epoch_good, model.theta)
            logs["seconds"] = time.perf_counter() - start
            history.epochs.append(logs)
            progress.update(logs)
            for callback in callbacks:
                callback(model, epoch, logs)
            if early_stopping is not None:
                watched = logs.get("val_loss", logs["loss"])
                if watched < best:
                    best, waited, best_theta, history.best_epoch = watched, 0, model.theta.copy(), epoch
                else:
                    waited += 1
                    if waited >= early_stopping:
                        history.stopped_early = True
                        model.theta[:] = best_theta
                        break
    finally:
        progress.close()
    return history


def _stop_unless_finite(model: Any, good: np.ndarray, what: str, value: float, where: str) -> None:
    """Restore θ to ``good`` and raise :class:`NumericalError` (carrying a copy of it) unless ``value`` is finite."""
    if math.isfinite(value):
        return
    model.theta[:] = good
    shown = "non-finite" if what == "a parameter" else str(value)
    raise NumericalError(f"{what} became {shown} {where}; θ restored to the last good values", theta=good.copy(),
                         model=model)


def last_good_path(path: str | os.PathLike) -> Path:
    """Where the last good θ goes when training for ``path`` stops: ``<path>.last-good.safetensors``."""
    return Path(f"{os.fspath(path)}.last-good.safetensors")


def save_last_good(error: NumericalError, path: str | os.PathLike, *, model_type: str,
                   lineage: dict[str, Any] | None = None) -> NumericalError:
    """Write the error's last good θ (finite) beside ``path``; return the error to raise, naming that file.

    The intended ``path`` itself is never written, so nothing downstream mistakes the stopped model for a trained one.
    """
    from tutelage import nn

    if error.theta is None or error.model is None:
        return error
    error.model.theta[:] = error.theta
    target = last_good_path(path)
    nn.save(error.model, target, model_type=model_type, lineage=lineage, metadata={"stopped": str(error)})
    return NumericalError(f"{error}; {path} was not written, the last good θ is in {target}", error.theta, error.model)


def predict_classes(model: Any, X: Any) -> np.ndarray:
    """``argmax`` of the model's outputs for each row of ``X``."""
    out = model.forward(_inputs(model, X, "predict"))
    return out.reshape(out.shape[0], -1).argmax(axis=1)


__all__: Sequence[str] = ["Callback", "History", "evaluate", "fit", "last_good_path", "predict_classes", "save_last_good"]
