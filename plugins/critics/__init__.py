"""Built-in critics (``rules``, ``learned``) and the rule kinds of the built-in worlds' constitutions.

They register through the ``tutelage_critics`` and ``tutelage_rule_kinds``
hooks like any plugin's. A critic factory takes the loaded constitution
(``factory(constitution=..., **options)``).
"""
from __future__ import annotations

from tutelage import hookimpl
from tutelage.errors import SpecError
from tutelage_plugins.critics.rules import RULE_KINDS


def _needs(name: str, options: dict, *keys: str) -> None:
    missing = [key for key in keys if options.get(key) is None]
    if missing:
        raise SpecError(f"critic {name!r} needs {' and '.join(f'{k}=' for k in missing)} "
                        "(a loaded tutelage.constitution.Constitution; the learned critic also its model)")


def _rules(**options):
    from tutelage_plugins.critics.rules_critic import RulesCritic

    _needs("rules", options, "constitution")
    return RulesCritic(**options)


def _learned(**options):
    from tutelage_plugins.critics.learned import LearnedCritic

    _needs("learned", options, "constitution", "model")
    return LearnedCritic(**options)


@hookimpl
def tutelage_critics() -> dict:
    return {"rules": _rules, "learned": _learned}


@hookimpl
def tutelage_rule_kinds() -> dict:
    return dict(RULE_KINDS)
