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
    model teachers read only the observation. A factory registered under
    ``tutelage_teachers`` is called with the options a spec or the CLI gives
    (``policy = { name = "noisy-expert", options = { sigma = 0.1 } }``,
    ``--policy-option sigma=0.1``). Any callable ``f(observation, info)`` can
    stand in for a teacher where an object is passed directly.
    """

    name: str
    privileged: bool

    def reset(self, seed: int | None = None) -> None:
        """Start an episode; ``seed`` (the episode's policy seed) seeds any randomness of the teacher."""
        ...

    def act(self, observation: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """The teacher's action (or output) for one observation."""
        ...


@dataclass(frozen=True)
class Critique:
    """A critic's verdict on one output against one principle of a constitution.

    ``ok`` is True when the output keeps the principle. Otherwise ``reason``
    explains the violation in words (with the numbers involved), ``revision``
    holds the revised output, ``method`` says how it was found (``projection``,
    ``search``, ``expert``...) and ``fixed`` whether the revision keeps the
    principle (a revision that does not is recorded as such, never counted).
    """

    ok: bool
    principle: str
    reason: str = ""
    revision: Any = None
    severity: float = 1.0
    method: str = ""
    fixed: bool | None = None


@runtime_checkable
class Critic(Protocol):
    """Reviews outputs against a constitution (a file of principles) and revises them."""

    name: str

    def critique(self, contexts: list[Any], outputs: list[Any], principles: list[str]) -> list[Critique]:
        """One critique per output (the first principle it breaks, or ``ok``)."""
        ...


CHOICES = ("first", "second", "tie", "abstain")


@dataclass(frozen=True)
class Verdict:
    """A judge's verdict on one pair: ``choice`` in :data:`CHOICES`, ``p_first`` = P(first is better).

    An abstention (or a failure) is never a preference: ``p_first`` is then None.
    """

    choice: str
    p_first: float | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if self.choice not in CHOICES:
            raise ValueError(f"verdict choice must be one of {CHOICES}, got {self.choice!r}")
        if self.choice == "abstain" and self.p_first is not None:
            raise ValueError("an abstention carries no p_first")
        if self.p_first is not None and not 0.0 <= self.p_first <= 1.0:
            raise ValueError(f"p_first must lie in [0, 1], got {self.p_first}")


@runtime_checkable
class Judge(Protocol):
    """Compares two outputs for the same context (better than TRL's pairwise judges: explicit
    verdicts, both presentation orders, a failure is an abstention)."""

    name: str

    def judge(self, contexts: list[Any], pairs: list[tuple[Any, Any]]) -> list[Verdict]:
        """One :class:`Verdict` per pair."""
        ...


@runtime_checkable
class World(Protocol):
    """What a world's environment class offers beyond ``gymnasium.Env`` (see docs/plugins.md).

    - ``reset(seed=, options=)``: ``options={"scenario": {...}}`` replays a
      complete scenario exactly; ``options={"edge_case": "ice + night"}``
      samples a named edge case (or combination); without options the world
      samples from its default ranges. The info holds the scenario played under
      ``"scenario"``.
    - every ``info`` holds ``is_success`` (bool); privileged truth for experts,
      critics and oracles goes in ``info`` too, never in the observation.
    - ``metrics``: the episode metrics it reports (:class:`tutelage.sim.metrics.Metric`),
      reduced from ``info`` keys; optional, default none.
    - ``default_scenarios()`` (classmethod): its scenario ranges and edge cases
      (:class:`tutelage.sim.scenarios.ScenarioSampler`); optional: a world
      without it runs with plain seeds.
    """

    metadata: dict[str, Any]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        ...

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        ...


@dataclass(frozen=True)
class WorldSpec:
    """A simulated world, registered with Gymnasium under ``id`` without importing it.

    ``entry_point`` is ``"module:Class"``; the module is imported only when an
    environment is made, so registering never imports PyBullet. ``expert``
    names the teacher that is this world's privileged expert.
    """

    id: str
    entry_point: str
    max_episode_steps: int | None = None
    description: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)
    expert: str = ""


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
      ``"model"`` and/or ``"dataset"``;
    - ``work(settings) -> int``: how much work the stage is, in episodes and
      epochs, for the run's overall progress bar (default: estimated from the
      ``episodes``, ``rounds`` and ``epochs`` settings).
    """

    name: str

    def run(self, context: Any, settings: dict[str, Any]) -> dict[str, Any]:
        """Do the stage's work inside a run; return its metrics."""
        ...
