"""Built-in teachers: the worlds' privileged experts and model teachers."""
from __future__ import annotations

from tutelage import hookimpl


@hookimpl
def tutelage_teachers() -> dict:
    return {}
