"""A first-order low-pass on a policy's action, restarted every episode.

``a_t = w * a_(t-1) + (1 - w) * pi(o_t)`` per action dimension (``a_0 = pi(o_0)``), where the
weight ``w`` is ``alpha`` while the policy's action rises above the filtered one and ``fall``
(``alpha`` unless given) while it falls below; ``w = 0`` passes the policy through. A memoryless
student reading noisy sensors flickers across a limit it drives close to, and every crossing
begins a new violation; the filter trades that flicker for a lag of about ``w / (1 - w)`` steps.
A small ``fall`` on a pedal smooths speeding up but lets braking through at once.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tutelage.errors import SpecError
from tutelage.rollouts.policy import as_policy, reset_policy


def filter_weights(alpha: float | Sequence[float], where: str = "action filter") -> np.ndarray:
    """``alpha`` as float64 weights, each in [0, 1): a vector, or a scalar for every action dimension
    (a list of one is one for all); a SpecError naming ``where`` otherwise."""
    weights = np.asarray(alpha, dtype=np.float64)
    if weights.ndim > 1 or weights.size == 0 or not np.all((weights >= 0) & (weights < 1)):
        raise SpecError(f"{where}: each weight must be in [0, 1), got {np.asarray(alpha).tolist()!r}")
    return weights.reshape(()) if weights.size == 1 else weights


class LowPassPolicy:
    """``policy`` (a teacher, a model or a callable) with its action low-pass filtered: ``alpha`` and
    ``fall`` are one weight for every action dimension, or one each."""

    def __init__(self, policy: Any, alpha: float | Sequence[float], fall: float | Sequence[float] | None = None):
        self.policy, self.alpha = policy, filter_weights(alpha)
        self.fall = self.alpha if fall is None else filter_weights(fall, "action filter (fall)")
        self._act = as_policy(policy)
        self._last: np.ndarray | None = None
        self.info = {**(getattr(policy, "info", None) or {}),
                     "action_filter": {"rise": self.alpha.tolist(), "fall": self.fall.tolist()}}
        same = self.fall.shape == self.alpha.shape and np.array_equal(self.fall, self.alpha)
        self.label = f"low-pass {self.alpha.tolist()}" + ("" if same else f" fall {self.fall.tolist()}")

    def reset(self, seed: int | None = None) -> None:
        reset_policy(self.policy, seed)
        self._last = None

    def act(self, observation: Any, info: dict) -> np.ndarray:
        action = np.asarray(self._act(observation, info))
        for weights in (self.alpha, self.fall):
            if weights.ndim and weights.shape != action.shape:
                raise SpecError(f"action filter: {weights.size} weights for an action of shape {action.shape}")
        raw = action.astype(np.float64)
        if self._last is None:
            self._last = raw
        else:
            weight = np.where(raw < self._last, self.fall, self.alpha)
            self._last = weight * self._last + (1.0 - weight) * raw
        return self._last.astype(action.dtype)
