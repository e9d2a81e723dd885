"""What every built-in critic shares: find the broken principles, revise in passes, check the fix."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tutelage.protocols import Critique


@dataclass(frozen=True)
class ScoredCritique(Critique):
    """A :class:`Critique` with the critic's confidence that the principle is broken (1 for rules)."""

    confidence: float = 1.0


class ReviewingCritic:
    """Base of the built-in critics.

    Subclasses give ``broken(step, action) -> [(principle, reason, confidence)]``
    and ``revise_one(step, action, principle) -> (action, method) | None``.
    :meth:`review` revises every broken principle, least severe first (so the
    most severe has the last word), then critiques the revision again and
    revises every principle broken so far, up to ``passes`` times; a
    principle whose revision fails falls back on the ``expert``'s action when
    the critic has one. ``fixed`` is judged by checking the final revision again.
    """

    name = "critic"
    expert: Any = None

    def __init__(self, constitution: Any, passes: int = 2):
        if passes < 1:
            raise ValueError(f"passes must be at least 1, got {passes}")
        self.constitution, self.passes = constitution, int(passes)

    def broken(self, step: Any, action: np.ndarray) -> list[tuple[Any, str, float]]:
        raise NotImplementedError

    def revise_one(self, step: Any, action: np.ndarray, principle: Any) -> tuple[np.ndarray, str] | None:
        raise NotImplementedError

    def revise_all(self, step: Any, action: np.ndarray, principles: list[Any]) -> tuple[np.ndarray, dict[str, str]]:
        """Revise for each principle in turn; return the action and each principle's method."""
        methods = {}
        for principle in principles:
            out = self.revise_one(step, action, principle)
            if out is None and self.expert is not None:
                out = np.asarray(self.expert.act(step.observation, step.info), dtype=np.float64).ravel(), "expert"
            if out is None:
                methods[principle.id] = "none"
                continue
            action, methods[principle.id] = np.clip(out[0], -1.0, 1.0), out[1]
        return action, methods

    def review(self, step: Any, action: Any) -> list[ScoredCritique]:
        """One critique per principle ``action`` breaks at ``step`` (empty when it keeps them all)."""
        action = np.asarray(action, dtype=np.float64).ravel()
        found = self.broken(step, action)
        if not found:
            return []
        revised, methods, current = action.copy(), {}, found
        touched = {p.id: p for p, _, _ in found}
        for _ in range(self.passes):
            revised, used = self.revise_all(step, revised, sorted(touched.values(), key=lambda p: p.severity))
            for key, method in used.items():
                methods.setdefault(key, method)
            current = self.broken(step, revised)
            if not current:
                break
            touched.update((p.id, p) for p, _, _ in current)
        still = {principle.id for principle, _, _ in current}
        return [ScoredCritique(False, p.id, reason, revised, p.severity, methods[p.id], p.id not in still, confidence)
                for p, reason, confidence in found]

    def target(self, step: Any, action: Any) -> tuple[np.ndarray, bool]:
        """The action a learner should be taught at ``step`` instead of ``action``, and whether it keeps
        every principle: here the revision of a reviewed action (``action`` itself when it breaks nothing)."""
        action = np.asarray(action, dtype=np.float64).ravel()
        critiques = self.review(step, action)
        if not critiques:
            return action, True
        return np.asarray(critiques[0].revision, dtype=np.float64), all(c.fixed for c in critiques)

    def critique(self, contexts: Sequence[Any], outputs: Sequence[Any], principles: Sequence[str] = ()) -> list[Critique]:
        """The protocol's view: per output, the most severe broken principle among ``principles``
        (all when empty), or ``ok``."""
        out: list[Critique] = []
        for step, action in zip(contexts, outputs):
            critiques = [c for c in self.review(step, action) if not principles or c.principle in principles]
            out.append(max(critiques, key=lambda c: c.severity) if critiques else Critique(True, ""))
        return out
