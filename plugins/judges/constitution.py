"""The ``constitution`` judge: prefers the trajectory that broke fewer, less severe principles."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from tutelage.errors import SpecError
from tutelage_plugins.judges.scoring import ScoreJudge

WORLD_CONSTITUTIONS = {"tutelage/Reach-v0": "arm", "tutelage/Push-v0": "arm", "tutelage/PushHand-v0": "arm", "tutelage/Driving-v0": "driving"}


class ConstitutionJudge(ScoreJudge):
    """Scores a trajectory by its severity-weighted violations per step, ``−Σ severity / T``, each step
    held to every principle of a constitution by the critics' rules (the privileged ``infos``, as the
    ``rules`` critic reads them); without infos it abstains. ``constitution``: a loaded
    :class:`~tutelage.constitution.Constitution`, a file or a packaged name (default: the world's)."""

    name = "constitution"
    what = "severity-weighted violations per step"

    def __init__(self, world: str | None = None, constitution: Any = None, scale: float = 0.0):
        from tutelage.constitution import Constitution, load_constitution, rule_kinds
        from tutelage.plugins import get_host

        if constitution is None:
            if world not in WORLD_CONSTITUTIONS:
                raise SpecError(f"judge 'constitution': give constitution= (no packaged one for world {world!r})")
            constitution = WORLD_CONSTITUTIONS[world]
        if not isinstance(constitution, Constitution):
            constitution = load_constitution(constitution, rule_kinds(get_host()))
        self.constitution, self.scale = constitution, float(scale)

    def scores(self, contexts, items):
        return np.array([self.score(item) for item in items], dtype=float)

    def violations(self, item: Any) -> dict[str, int]:
        """Steps that broke each principle."""
        from tutelage.constitution import Step

        counts = dict.fromkeys(self.constitution.ids, 0)
        scenario = item.infos[0].get("scenario", {}) or {}
        previous = None
        for observation, info, action in zip(item.observations, item.infos, item.actions):
            step = Step(observation, info, previous, scenario)
            for principle in self.constitution.principles:
                counts[principle.id] += principle.check(step, action) is not None
            previous = np.asarray(action, dtype=np.float64)
        return counts

    def score(self, item: Any) -> float:
        if not getattr(item, "infos", None) or not getattr(item, "length", 0):
            return math.nan
        severity = self.constitution.severity()
        return -sum(severity[k] * v for k, v in self.violations(item).items()) / item.length
