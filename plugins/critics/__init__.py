"""Built-in critics (``rules``, ``learned``) and the rule kinds of the built-in worlds' constitutions.

They register through the ``tutelage_critics`` and ``tutelage_rule_kinds``
hooks like any plugin's. A critic factory takes the loaded constitution
(``factory(constitution=..., **options)``).
"""
from __future__ import annotations

from tutelage import hookimpl
from tutelage_plugins.critics.rules import RULE_KINDS


def _rules(**options):
    from tutelage_plugins.critics.rules_critic import RulesCritic

    return RulesCritic(**options)


def _learned(**options):
    from tutelage_plugins.critics.learned import LearnedCritic

    return LearnedCritic(**options)


@hookimpl
def tutelage_critics() -> dict:
    return {"rules": _rules, "learned": _learned}


@hookimpl
def tutelage_rule_kinds() -> dict:
    return dict(RULE_KINDS)
