"""The plugin contract: every hook a tutelage plugin may implement.

Plugins implement hooks with ``@tutelage.hookimpl`` and register through the
``tutelage`` entry-point group (the built-ins do the same), or are named on
the command line with ``--plugin``. Contribution hooks return a mapping from a
name to the contributed object; names must be unique across plugins.
Lifecycle hooks are notifications: every implementation is called and the
results are ignored.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pluggy

from tutelage.protocols import Critic, Judge, ModelType, StageType, Teacher, WorldSpec

hookspec = pluggy.HookspecMarker("tutelage")

# -------------------------------------------------------------------------
# Contributions: what a plugin adds to the registries
# -------------------------------------------------------------------------


@hookspec
def tutelage_model_types() -> Mapping[str, ModelType]:
    """Model types this plugin provides, by name (``{"mlp": MLPType()}``).

    Called once when the plugin manager loads; every implementation's result is
    merged into the ``model_types`` registry. Not firstresult.
    """


@hookspec
def tutelage_teachers() -> Mapping[str, Callable[..., Teacher]]:
    """Teacher factories by name; ``factory(**options)`` returns a :class:`Teacher`.

    Privileged experts of the worlds register here too. Not firstresult.
    """


@hookspec
def tutelage_critics() -> Mapping[str, Callable[..., Critic]]:
    """Critic factories by name; ``factory(**options)`` returns a :class:`Critic`. Not firstresult."""


@hookspec
def tutelage_rule_kinds() -> Mapping[str, Callable[..., Any]]:
    """Rule kinds for constitution files, by name (``{"speed-limit": SpeedLimit}``).

    A principle's ``check = { rule = "speed-limit", limit = 2.0 }`` builds
    ``factory(limit=2.0)``: an object with ``check(context, action) -> str | None``
    (None when the action keeps the principle, else the reason in words with its
    numbers) and ``revise(context, action) -> (action, method) | None`` (the
    smallest change that keeps it, and how it was found: ``projection`` or
    ``search``; None when it cannot). See :mod:`tutelage.constitution`. Not firstresult.
    """


@hookspec
def tutelage_judges() -> Mapping[str, Callable[..., Judge]]:
    """Judge factories by name; ``factory(**options)`` returns a :class:`Judge`. Not firstresult."""


@hookspec
def tutelage_worlds() -> Mapping[str, WorldSpec]:
    """Worlds by Gymnasium id (``"tutelage/Driving-v0"``).

    Registration with Gymnasium happens on ``import tutelage`` and must not
    import the simulator. Not firstresult.
    """


@hookspec
def tutelage_layer_kinds() -> Mapping[str, type]:
    """Layer kinds by name (``{"swish": Swish}``): subclasses of :class:`tutelage.nn.PluginLayer`
    whose ``type`` is their name (the built-in layers register here too). Models take them with
    ``kinds=host.registry("layer_kinds")``. Not firstresult.
    """


@hookspec
def tutelage_stage_types() -> Mapping[str, StageType]:
    """Stage types for run specs (``generate``, ``distill``, ...), by name. Not firstresult."""


# -------------------------------------------------------------------------
# Lifecycle: notifications for loggers and trackers
# -------------------------------------------------------------------------


@hookspec
def tutelage_run_start(run_dir: str, spec: Mapping[str, Any]) -> None:
    """A run begins in ``run_dir`` with the resolved ``spec``. Return value ignored."""


@hookspec
def tutelage_run_end(run_dir: str, summary: Mapping[str, Any]) -> None:
    """A run finished; ``summary`` holds its headline metrics. Return value ignored."""


@hookspec
def tutelage_epoch_end(model: Any, epoch: int, logs: Mapping[str, float]) -> None:
    """A training epoch ended; ``logs`` holds ``loss`` and, with validation, ``val_loss``. Return value ignored."""


@hookspec
def tutelage_episode_end(world: str, episode_index: int, info: Mapping[str, Any]) -> None:
    """An episode in ``world`` ended; ``info`` is the final step's info. Return value ignored."""
