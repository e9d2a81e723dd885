"""What each kind of plugin contributes: the interfaces, typed.

Plugins return these objects from the contribution hooks in
:mod:`tutelage.hookspecs`. Only the interface lives here; the built-in
implementations live in ``plugins/`` (importable as ``tutelage_plugins``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class ModelType(Protocol):
    """A family of models (``mlp``, ``cnn``) that builds a :class:`tutelage.nn.Model`."""

    name: str
    description: str

    def build(self, input_shape: tuple[int, ...], output_size: int, *, seed: int = 0, **options: Any) -> Any:
        """Return a fresh model mapping inputs of ``input_shape`` to ``output_size`` outputs."""
        ...


@runtime_checkable
class Teacher(Protocol):
    """Produces targets for a student.

    Privileged experts read the ground truth in ``info`` (``privileged = True``);
    model teachers read only the observation. Any callable ``f(observation, info)``
    can be wrapped as a teacher.
    """

    name: str
    privileged: bool

    def act(self, observation: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """The teacher's action (or output) for one observation."""
        ...


@dataclass(frozen=True)
class Critique:
    """A critic's verdict on one output against one principle."""

    ok: bool
    principle: str
    reason: str = ""
    revision: Any = None


@runtime_checkable
class Critic(Protocol):
    """Reviews outputs against a constitution (a file of principles) and revises them."""

    name: str

    def critique(self, contexts: list[Any], outputs: list[Any], principles: list[str]) -> list[Critique]:
        """One critique per output; ``revision`` holds the revised output when ``ok`` is False."""
        ...


@runtime_checkable
class Judge(Protocol):
    """Compares two outputs for the same context (after TRL's pairwise judges)."""

    name: str

    def judge(self, contexts: list[Any], pairs: list[tuple[Any, Any]], shuffle_order: bool = True) -> list[int]:
        """Index of the better output of each pair: 0 or 1, or -1 when it cannot tell."""
        ...


@dataclass(frozen=True)
class WorldSpec:
    """A simulated world, registered with Gymnasium under ``id`` without importing it.

    ``entry_point`` is ``"module:Class"``; the module is imported only when an
    environment is made, so registering never imports PyBullet.
    """

    id: str
    entry_point: str
    max_episode_steps: int | None = None
    description: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)
    expert: str = ""  # name of the teacher that is this world's privileged expert


@runtime_checkable
class StageType(Protocol):
    """A step of a run spec (``generate``, ``distill``, ``evaluate``, ...).

    Optional members, used when present (see :mod:`tutelage.runs.spec`):

    - ``settings``: a schema ``{key: tutelage.runs.schema.Field(...)}``; the
      runner checks a stage's table against it (unknown keys, types, ranges)
      and fills defaults before anything runs;
    - ``validate(settings, check) -> settings``: further checks with a
      :class:`tutelage.runs.spec.SpecCheck` (registries, earlier stages);
      raise :class:`tutelage.errors.SpecError` naming ``check.where``;
    - ``produces``: what the stage's result offers later stages, a tuple of
      ``"model"`` and/or ``"dataset"``.
    """

    name: str

    def run(self, context: Any, settings: dict[str, Any]) -> dict[str, Any]:
        """Do the stage's work inside a run; return its metrics."""
        ...
