"""Broken: implements ``tutelage_teacher`` (the hook is ``tutelage_teachers``)."""
from tutelage import hookimpl


@hookimpl
def tutelage_teacher():
    return {}
