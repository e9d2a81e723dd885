"""Turn whatever a user hands us into a policy ``act(observation, info) -> action``.

Accepted: a teacher (anything with ``.act(observation, info)``), a model
(``model(x)``: a :class:`tutelage.nn.Model` or a quantized one), or a plain
callable taking ``(observation, info)`` or just ``(observation)``. Dict
observations are flattened to one float32 vector (keys in sorted order) before
they reach a model.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

Policy = Callable[[Any, dict], np.ndarray]


def observation_vector(observation: Any, keys: Sequence[str] | None = None) -> np.ndarray:
    """One flat float32 vector from an array observation or a dict of arrays (sorted keys, or ``keys``)."""
    if isinstance(observation, Mapping):
        names = list(keys) if keys is not None else sorted(observation)
        parts = [np.asarray(observation[name], dtype=np.float32).ravel() for name in names]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return np.asarray(observation, dtype=np.float32).ravel()


def is_model(obj: Any) -> bool:
    """True for tutelage models and quantized models (they carry a ``spec`` and take one array)."""
    return callable(obj) and hasattr(obj, "spec") and not hasattr(obj, "act")


def _takes_info(fn: Callable) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return True
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2


def as_policy(obj: Any, observation_keys: Sequence[str] | None = None) -> Policy:
    """A function ``(observation, info) -> action`` for a teacher, model or callable."""
    if hasattr(obj, "act"):
        return obj.act
    if is_model(obj):
        def model_policy(observation: Any, info: dict) -> np.ndarray:
            return np.asarray(obj(observation_vector(observation, observation_keys)))
        return model_policy
    if callable(obj):
        if _takes_info(obj):
            return obj
        return lambda observation, info: obj(observation)
    raise TypeError(f"cannot use {type(obj).__name__} as a policy: expected a teacher (.act), a model or a callable")


def reset_policy(obj: Any) -> None:
    """Call ``obj.reset()`` when a stateful teacher or policy has one (start of an episode)."""
    reset = getattr(obj, "reset", None)
    if callable(reset):
        reset()


def policy_name(obj: Any) -> str:
    """A short human name for reports."""
    info = getattr(obj, "info", None)
    if isinstance(info, Mapping) and info.get("id"):
        return str(info["id"])
    return str(getattr(obj, "name", None) or getattr(obj, "__name__", None) or type(obj).__name__)
