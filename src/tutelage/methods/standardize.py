"""Train on standardized inputs, keep a model that reads raw ones.

Sensor inputs live on very different scales (lidar in metres, curvature in
1/m); a small policy learns faster when each input is standardized. Rather
than add a preprocessing step that every user of the model must repeat, the
per-feature ``(x - mean) / std`` is folded into the first dense layer: before
training its weights are mapped into standardized coordinates, after training
back (``W_raw = W / std``, ``b_raw = b - (mean / std) · W``), which is the same
function of the raw input. A fresh model's initial weights are taken as
standardized-space weights (its initialisation was meant for unit-scale
inputs); a warm start (DAgger's later rounds, fine-tuning) is first mapped
into the new coordinates, so it continues from the same function.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def first_dense(model: Any) -> Any:
    """The model's first layer when it is dense on a flat input; else None (nothing to fold into)."""
    layers = getattr(model, "layers", None)
    if not layers or len(model.input_shape) != 1 or layers[0].type != "dense":
        return None
    return layers[0]


def fit_standardized(model: Any, X: np.ndarray, train: Callable[[np.ndarray, Callable], Any], *,
                     warm_start: bool = False) -> Any:
    """``train(X_standardized, transform)`` with the standardization folded into ``model``.

    ``transform`` standardizes other raw inputs the same way (validation data);
    returns what ``train`` returns.
    """
    layer = first_dense(model)
    if layer is None or len(X) < 2:
        return train(X, lambda raw: raw)
    X64 = np.asarray(X, dtype=np.float64)
    mean, std = X64.mean(axis=0), X64.std(axis=0)
    std[std < 1e-6] = 1.0  # a constant input stays as it is
    weight, bias = layer.params["weight"], layer.params["bias"]
    if warm_start:
        w = weight.astype(np.float64)
        bias[...] = bias + mean @ w
        weight[...] = w * std[:, None]

    def transform(raw: np.ndarray) -> np.ndarray:
        return ((np.asarray(raw, dtype=np.float64) - mean) / std).astype(np.float32)

    try:
        return train(transform(X64), transform)
    finally:
        w = weight.astype(np.float64)
        bias[...] = bias - (mean / std) @ w
        weight[...] = w / std[:, None]
