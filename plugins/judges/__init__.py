"""Built-in judges: ``oracle`` (the designer's objective, optionally noisy like human raters), ``expert``
(the world's privileged expert), ``constitution`` (severity-weighted violations of a constitution's rules)
and ``model`` (a learned reward model, cheap to query).

Every judge here scores each item and compares scores; :mod:`tutelage.judging` judges both orders and
turns failures into abstentions. Oracles are found by world id (:mod:`tutelage_plugins.worlds.oracles`).
"""
from __future__ import annotations

from tutelage import hookimpl
from tutelage_plugins.judges.constitution import ConstitutionJudge
from tutelage_plugins.judges.scoring import ExpertJudge, ModelJudge, OracleJudge


@hookimpl
def tutelage_judges() -> dict:
    return {"oracle": OracleJudge, "expert": ExpertJudge, "model": ModelJudge, "constitution": ConstitutionJudge}
