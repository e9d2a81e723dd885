"""Broken: every contribution hook returns the wrong type."""
from tutelage import hookimpl


@hookimpl
def tutelage_model_types():
    return ["corpus-model"]  # a list, not a mapping


@hookimpl
def tutelage_teachers():
    return {"corpus-teacher": 42}  # not a factory


@hookimpl
def tutelage_critics():
    return {"corpus-critic": "a critic"}  # not a factory


@hookimpl
def tutelage_judges():
    return None  # nothing at all


@hookimpl
def tutelage_worlds():
    return {"corpus/World-v0": "corpus_world:Env"}  # not a WorldSpec


@hookimpl
def tutelage_stage_types():
    return {"corpus-stage": 3.5}  # no run()
