"""Process pools that start the same way on every platform.

``forkserver`` (POSIX) starts each worker from a clean server process that has
already imported the modules named in ``preload``; where it does not exist
(Windows) workers are spawned, importing what they need themselves. Either way
a worker runs a picklable top-level function on its arguments, so its results
do not depend on the start method.
"""
from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from multiprocessing.context import BaseContext


def start_method() -> str:
    """``"forkserver"`` where this platform has it, else ``"spawn"``."""
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def pool_context(preload: Sequence[str] = (), method: str | None = None) -> BaseContext:
    """A multiprocessing context for worker pools (``context.Pool(n)``); ``preload`` names modules the
    forkserver imports once for all workers (ignored by ``spawn``); ``method`` overrides :func:`start_method`."""
    context = multiprocessing.get_context(method or start_method())
    if context.get_start_method() == "forkserver" and preload:
        context.set_forkserver_preload(list(preload))
    return context
