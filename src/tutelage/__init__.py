"""tutelage: AI trains AI in simulation.

A Cython core trains and runs small neural models (``y = f(x, θ)`` with θ one
float32 vector); plugins contribute model types, teachers, critics, judges and
PyBullet worlds. Importing tutelage registers every world with Gymnasium
(``gymnasium.make("tutelage/Driving-v0")``) without importing PyBullet.
"""
from importlib.metadata import PackageNotFoundError, version

import pluggy

try:
    __version__ = version("tutelage")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

#: Decorator for plugin hook implementations: ``@tutelage.hookimpl``.
hookimpl = pluggy.HookimplMarker("tutelage")

from tutelage.sim.registration import register_worlds  # noqa: E402

register_worlds()

__all__ = ["__version__", "hookimpl", "register_worlds"]
