"""Built-in worlds (PyBullet). Registering them never imports PyBullet."""
from __future__ import annotations

from tutelage import hookimpl
from tutelage.protocols import WorldSpec


@hookimpl
def tutelage_worlds() -> dict[str, WorldSpec]:
    return {}
