"""The ``learned`` critic: a model trained on the rules critic's verdicts, reading sensors only.

The model (any model type) maps :func:`tutelage.methods.constitution.critic_features`
(observation, action, unless the model's metadata says ``history: false`` the
previous action and the observation's change since the step before, and the
scenario's sensed ``conditions`` named in the metadata) to a score per
principle and the revision's change of the action (see ``train_critic_model``).
A principle is judged broken when its score reaches its threshold (the
model's metadata ``thresholds``, chosen on validation episodes, else
``threshold``); the confidence is the score clipped to [0, 1]. Its revision
is the predicted change (method ``learned``), and ``fixed`` is its own
verdict on the revised action.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from tutelage.errors import SpecError
from tutelage.methods.constitution import critic_features
from tutelage_plugins.critics.review import ReviewingCritic


class LearnedCritic(ReviewingCritic):
    """Critiques from sensor-only observations with a trained model (a ``.safetensors`` path or a model)."""

    name = "learned"
    privileged = False

    def __init__(self, constitution: Any, model: Any, threshold: float | None = None, passes: int = 2):
        super().__init__(constitution, passes)
        if isinstance(model, (str, os.PathLike)):
            from tutelage import nn

            model = nn.load(model)
        meta = (getattr(model, "info", None) or {}).get("metadata") or {}
        trained_on = meta.get("principles")
        if trained_on is not None and list(trained_on) != constitution.ids:
            raise SpecError(f"--critic-model: trained on principles {trained_on}, but constitution "
                            f"{constitution.id} has {constitution.ids}")
        n = len(constitution.principles)
        chosen = meta.get("thresholds")
        if threshold is not None or chosen is None:
            chosen = [0.5 if threshold is None else float(threshold)] * n
        self.model, self.thresholds = model, np.asarray(chosen, dtype=np.float64)
        self.conditions, self.history = tuple(meta.get("conditions") or ()), bool(meta.get("history", True))

    def _outputs(self, step: Any, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = np.asarray(self.model(critic_features(step, action, self.conditions, self.history)), np.float64).ravel()
        n = len(self.constitution.principles)
        return out[:n], out[n:]

    def broken(self, step: Any, action: np.ndarray) -> list[tuple[Any, str, float]]:
        scores, _ = self._outputs(step, action)
        found = []
        for principle, score, threshold in zip(self.constitution.principles, scores, self.thresholds):
            if score >= threshold:
                confidence = float(np.clip(score, 0.0, 1.0))
                found.append((principle, f"the learned critic judges with confidence {confidence:.2f} that the action "
                                         f"breaks {principle.id!r}: {principle.text}", confidence))
        return found

    def revise_one(self, step: Any, action: np.ndarray, principle: Any) -> tuple[np.ndarray, str] | None:
        _, change = self._outputs(step, action)
        return np.asarray(action, dtype=np.float64) + change, "learned"

    def revise_all(self, step: Any, action: np.ndarray, principles: list[Any]) -> tuple[np.ndarray, dict[str, str]]:
        """One predicted change serves every principle (the model revises the whole action at once)."""
        revised, method = self.revise_one(step, action, principles[0])
        return np.clip(revised, -1.0, 1.0), {p.id: method for p in principles}
