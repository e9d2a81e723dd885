"""tutelage: AI trains AI in simulation.

A Cython core trains and runs small neural models (``y = f(x, θ)`` with θ one
float32 vector); plugins contribute model types, teachers, critics, judges and
PyBullet worlds. Importing tutelage loads no plugin and no simulator: the
plugin host loads on first use (:func:`tutelage.plugins.get_host`), and
``import tutelage.worlds`` registers every world with Gymnasium, which is also
what ``gymnasium.make("tutelage.worlds:tutelage/Driving-v0")`` does in a fresh
process.
"""
from importlib.metadata import PackageNotFoundError, version

import pluggy

try:
    __version__ = version("tutelage")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

#: Decorator for plugin hook implementations: ``@tutelage.hookimpl``.
hookimpl = pluggy.HookimplMarker("tutelage")

__all__ = ["__version__", "hookimpl"]
