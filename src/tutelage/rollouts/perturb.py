"""A policy with Gaussian noise on its action, seeded every episode (after DART, Laskey et al. 2017).

As the anchor of a critique (:func:`tutelage.methods.constitution.critique_episodes`), it makes the
critic judge actions near the ones the policy took as well: counterfactual examples at the
policy's own states, where a learned critic must tell a limit kept from one just broken.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tutelage.errors import SpecError
from tutelage.rollouts.policy import as_policy, reset_policy


class NoisyPolicy:
    """``policy``'s action plus N(0, ``scale``²) per dimension, clipped into ``[low, high]``; the noise is
    drawn from ``(episode seed, salt)``, so another ``salt`` gives other probes of the same episodes."""

    def __init__(self, policy: Any, scale: float | Sequence[float], low: Any = -1.0, high: Any = 1.0, salt: int = 0):
        self.scale = np.asarray(scale, dtype=np.float64)
        if not np.all(np.isfinite(self.scale) & (self.scale >= 0)):
            raise SpecError(f"action noise: the scale must be finite and at least 0, got {np.asarray(scale).tolist()!r}")
        self.policy, self.low, self.high, self.salt = policy, np.asarray(low), np.asarray(high), int(salt)
        self._act = as_policy(policy)
        self._rng = np.random.default_rng([0, self.salt])
        self.info = {**(getattr(policy, "info", None) or {}), "action_noise": self.scale.tolist()}

    def reset(self, seed: int | None = None) -> None:
        reset_policy(self.policy, seed)
        self._rng = np.random.default_rng([0 if seed is None else int(seed), self.salt])

    def act(self, observation: Any, info: dict) -> np.ndarray:
        action = np.asarray(self._act(observation, info))
        noisy = action + self._rng.normal(0.0, 1.0, action.shape) * self.scale
        return np.clip(noisy, self.low, self.high).astype(action.dtype)
