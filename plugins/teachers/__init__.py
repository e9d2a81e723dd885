"""Built-in teachers: the worlds' privileged experts and model teachers."""
from __future__ import annotations

from tutelage import hookimpl
from tutelage_plugins.teachers.experts import DrivingExpert, PushExpert, PushHandExpert, ReachExpert
from tutelage_plugins.teachers.models import model_teacher


@hookimpl
def tutelage_teachers() -> dict:
    return {"driving-expert": DrivingExpert, "reach-expert": ReachExpert, "push-expert": PushExpert, "push-hand-expert": PushHandExpert, "model": model_teacher}
