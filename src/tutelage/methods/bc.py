"""Behavior cloning: supervised learning of a teacher's actions.

The data is ``(X, Y)`` arrays, a :class:`tutelage.data.Dataset`, or a dataset
directory. Continuous actions are learned with mean squared error, integer
(discrete) actions with cross-entropy. A dataset can carry a teacher's
actions as an extra column (``teacher.action``, see
:mod:`tutelage.methods.teacher_outputs`): pass ``target="teacher.action"`` to
clone the teacher without running it again.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from tutelage.errors import DataError
from tutelage.methods.lineage import Derivation, parent_id
from tutelage.methods.standardize import fit_standardized


def default_loss(Y: np.ndarray) -> Any:
    """Cross-entropy for integer labels, mean squared error for anything else."""
    from tutelage import nn

    return nn.losses.CrossEntropy() if np.issubdtype(np.asarray(Y).dtype, np.integer) else nn.losses.MSE()


def as_targets(Y: np.ndarray) -> np.ndarray:
    """Integer labels as int64, everything else as float32 (2-D)."""
    Y = np.asarray(Y)
    if np.issubdtype(Y.dtype, np.integer):
        return Y.astype(np.int64).ravel()
    Y = Y.astype(np.float32)
    return Y.reshape(len(Y), -1)


def train_supervised(
    student: Any,
    X: np.ndarray,
    Y: Any,
    *,
    loss: Any = None,
    epochs: int = 50,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    validation: Any = None,
    early_stopping: Any = None,
    quiet: bool = True,
    standardize: bool = False,
    warm_start: bool = False,
    callbacks: Any = (),
) -> Any:
    """One ``fit`` call with the method defaults; returns the core's History.
    ``callbacks`` (``f(model, epoch, logs)``) run after each epoch.

    ``standardize`` trains on per-feature standardized inputs folded into the
    first dense layer (see :mod:`tutelage.methods.standardize`): the model
    still reads raw inputs; ``warm_start`` says the model is already trained.
    """
    from tutelage.train import fit

    def train(inputs: np.ndarray, transform: Any) -> Any:
        held_out = (transform(validation[0]), validation[1]) if isinstance(validation, tuple) else validation
        return fit(
            student, inputs, Y,
            loss=loss if loss is not None else default_loss(Y if not isinstance(Y, tuple) else Y[0]),
            optimizer="adam", lr=lr, epochs=epochs, batch_size=batch_size,
            validation=held_out, early_stopping=early_stopping, seed=seed, quiet=quiet, callbacks=callbacks,
        )

    X = np.ascontiguousarray(X, dtype=np.float32)
    return fit_standardized(student, X, train, warm_start=warm_start) if standardize else train(X, lambda raw: raw)


def dataset_arrays(
    data: Any, target: str = "action", observation_columns: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray, str, str | None]:
    """``(X, Y, dataset_id, generating_policy)`` from arrays, a Dataset or a dataset directory."""
    if isinstance(data, tuple):
        if len(data) != 2:
            raise DataError("behavior cloning data must be (X, Y), a Dataset or a dataset directory")
        X, Y = data
        return np.asarray(X, dtype=np.float32), np.asarray(Y), "arrays", None
    from tutelage.data import Dataset

    dataset = data if isinstance(data, Dataset) else Dataset(os.fspath(data))
    columns = list(observation_columns or observation_columns_of(dataset))
    arrays = dataset.to_arrays([*columns, target])
    X = observation_matrix(arrays, columns)
    info = dataset.info
    return X, np.asarray(arrays[target]), str(info.get("id") or os.fspath(getattr(dataset, "root", data))), policy_of(info)


def observation_matrix(arrays: dict[str, Any], columns: Sequence[str]) -> np.ndarray:
    """The ``columns`` of a frame table flattened and side by side: one float32 row per frame."""
    return np.concatenate([np.asarray(arrays[c], dtype=np.float32).reshape(len(arrays[c]), -1) for c in columns], axis=1)


def observation_columns_of(dataset: Any) -> list[str]:
    """The dataset's ``observation.*`` columns in sorted order (the order policies flatten dict observations in).

    Camera frames (``observation.images.*``) are renders kept for people, not policy inputs.
    """
    features = dataset.info.get("features") or {}
    columns = sorted(
        name for name in features if name.startswith("observation.") and not name.startswith("observation.images.")
    )
    if not columns:
        raise DataError(f"{getattr(dataset, 'root', 'dataset')}: meta/info.json lists no observation.* feature")
    return columns


def policy_of(info: dict[str, Any]) -> str | None:
    """The generating policy named in a dataset's info, if any."""
    policy = info.get("policy")
    if isinstance(policy, dict):
        return policy.get("id") or policy.get("name")
    return policy


def behavior_cloning(
    student: Any,
    data: Any,
    *,
    target: str = "action",
    observation_columns: Sequence[str] | None = None,
    teacher: str | None = None,
    standardize: bool = False,
    **train_options: Any,
) -> tuple[Any, Derivation]:
    """Train ``student`` to reproduce the actions in ``data``; return ``(student, derivation)``.

    ``train_options`` go to :func:`train_supervised` (epochs, batch_size, lr,
    seed, validation, early_stopping, quiet, loss); ``standardize`` trains on
    standardized inputs folded into the model. The derivation's teacher is
    ``teacher`` or the dataset's generating policy.
    """
    X, Y, dataset_id, generator = dataset_arrays(data, target, observation_columns)
    if len(X) != len(Y):
        raise DataError(f"{dataset_id}: {len(X)} observations but {len(Y)} targets")
    if len(X) == 0:
        raise DataError(f"{dataset_id}: no samples to clone")
    history = train_supervised(student, X, as_targets(Y), standardize=standardize,
                               warm_start=parent_id(student) is not None, **train_options)
    derivation = Derivation(
        "bc", parent=parent_id(student), teacher=teacher or generator, dataset=dataset_id,
        history=[history], metrics={"samples": int(len(X))},
    )
    return student, derivation
