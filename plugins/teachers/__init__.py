"""Built-in teachers: the worlds' privileged experts and model teachers."""
from __future__ import annotations

from tutelage import hookimpl
from tutelage_plugins.teachers.experts import DrivingExpert


@hookimpl
def tutelage_teachers() -> dict:
    return {"driving-expert": DrivingExpert}
