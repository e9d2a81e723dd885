"""Broken: contributions without the methods their protocol requires."""
from tutelage import hookimpl


class NoBuild:
    name, description = "corpus-nobuild", "a model type without build()"


class NoAct:
    name, privileged = "corpus-noact", False

    def reset(self, seed=None):
        pass


class NoRun:
    name = "corpus-norun"


@hookimpl
def tutelage_model_types():
    return {"corpus-nobuild": NoBuild()}


@hookimpl
def tutelage_teachers():
    return {"corpus-noact": NoAct}  # a factory: loads, but tutelage plugins --check finds no act()


@hookimpl
def tutelage_stage_types():
    return {"corpus-norun": NoRun()}
