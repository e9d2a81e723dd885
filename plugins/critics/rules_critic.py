"""The ``rules`` critic: checks each principle's rule on the privileged state of every step."""
from __future__ import annotations

from typing import Any

import numpy as np

from tutelage_plugins.critics.review import ReviewingCritic


class RulesCritic(ReviewingCritic):
    """Reads the privileged ``info`` (like the experts) and holds each action to every principle's rule.

    Revisions come from the rules themselves (projection, search); where a
    rule finds none, the ``expert`` teacher's action is the fallback (method
    ``expert``), checked like any other revision.
    """

    name = "rules"
    privileged = True

    def __init__(self, constitution: Any, expert: Any = None, passes: int = 2):
        super().__init__(constitution, passes)
        self.expert = expert

    def broken(self, step: Any, action: np.ndarray) -> list[tuple[Any, str, float]]:
        if step.info is None:
            raise ValueError("the rules critic reads the privileged state: the step has no info")
        found = []
        for principle in self.constitution.principles:
            reason = principle.check(step, action)
            if reason is not None:
                found.append((principle, reason, 1.0))
        return found

    def revise_one(self, step: Any, action: np.ndarray, principle: Any) -> tuple[np.ndarray, str] | None:
        return principle.rule.revise(step, action)

    def target(self, step: Any, action: Any) -> tuple[np.ndarray, bool]:
        """Every principle's revision applied to ``action`` (least severe first), broken or not: a rule
        revises into its allowed set shrunk by its ``slack``, so an action that only grazes a limit is
        taught to keep clear of it, and one well inside stays as it is."""
        action = np.asarray(action, dtype=np.float64).ravel()
        revised, _ = self.revise_all(step, action, sorted(self.constitution.principles, key=lambda p: p.severity))
        return revised, not self.broken(step, revised)
