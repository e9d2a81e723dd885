"""Scenarios: domain randomization over declared ranges, plus named edge cases.

A scenario is a flat, JSON-able dict of parameters sampled at reset (road
shape, friction, traffic, sensor noise, lighting, latency, masses, ...).
A world declares what it supports — each parameter's default distribution and
hard bounds — and a TOML file may narrow the ranges and declare edge cases::

    world = "tutelage/Driving-v0"
    combos = ["pedestrian-crossing + ice + heavy-sensor-noise + night"]

    [parameters]
    friction = { low = 0.6, high = 1.0 }      # uniform float
    traffic_count = { low = 1, high = 4 }     # uniform integer, both ends included
    weather = { choices = ["clear", "rain"] } # one of
    lane_width = 1.0                          # fixed

    [edge_cases.ice]
    friction = { low = 0.1, high = 0.2 }

An edge case replaces the distributions of the parameters it names; several
combine with ``" + "`` (later ones win). ``held_out = ["thunderstorm"]`` (a
top-level key) marks edge cases or combinations as held out: kept for
evaluation, never for training; a combination with a held-out part is held
out too. ``edge_case_names`` (what rollouts cycle through) leaves them out;
``held_out_names`` lists them (see also :meth:`ScenarioSampler.in_distribution`). Sampling is deterministic given the
state of the ``numpy.random.Generator`` passed in.
"""
from __future__ import annotations

import importlib
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tutelage.errors import SpecError, UnknownNameError, unknown_name_message

Value = bool | int | float | str
COMBINE = " + "
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class Distribution:
    """One parameter's distribution: a fixed value, a uniform range or a choice."""

    low: Value | None = None
    high: Value | None = None
    choices: tuple[Value, ...] | None = None
    value: Value | None = None

    @property
    def integer(self) -> bool:
        return isinstance(self.low, int) and isinstance(self.high, int)

    def draw(self, rng: np.random.Generator) -> Value:
        if self.value is not None:
            return self.value
        if self.choices is not None:
            return self.choices[int(rng.integers(len(self.choices)))]
        if self.integer:
            return int(rng.integers(self.low, self.high + 1))
        return float(rng.uniform(self.low, self.high))

    def values(self) -> list[Value]:
        """The extreme values this distribution can produce (for bound checks)."""
        if self.value is not None:
            return [self.value]
        if self.choices is not None:
            return list(self.choices)
        return [self.low, self.high]

    def as_toml_value(self) -> Value | dict[str, Any]:
        if self.value is not None:
            return self.value
        if self.choices is not None:
            return {"choices": list(self.choices)}
        return {"low": self.low, "high": self.high}


@dataclass(frozen=True)
class Bounds:
    """What a world supports for one parameter: a numeric interval or a set of options."""

    low: float | None = None
    high: float | None = None
    options: tuple[Value, ...] | None = None
    kind: type = float

    def check(self, value: Any, where: str) -> Value:
        """Return ``value`` converted to this parameter's type, or raise SpecError naming ``where``."""
        if self.options is not None:
            if value not in self.options:
                raise SpecError(f"{where}: {value!r} is not one of {list(self.options)}")
            return value
        if isinstance(value, bool) and self.kind is not bool:
            raise SpecError(f"{where}: expected a number, got {value!r}")
        if self.kind is bool:
            if not isinstance(value, bool):
                raise SpecError(f"{where}: expected true or false, got {value!r}")
            return value
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SpecError(f"{where}: expected a finite number, got {value!r}")
        if self.kind is int and int(value) != value:
            raise SpecError(f"{where}: expected an integer, got {value!r}")
        if not self.low <= value <= self.high:
            raise SpecError(f"{where}: {value!r} is outside the supported range [{self.low}, {self.high}]")
        return self.kind(value)


def parse_distribution(raw: Any, bounds: Bounds, where: str) -> Distribution:
    """A distribution from its TOML form, checked against the world's bounds."""
    if isinstance(raw, Distribution):
        raw = raw.as_toml_value()
    if isinstance(raw, tuple):
        raw = {"low": raw[0], "high": raw[1]} if len(raw) == 2 else {"choices": list(raw)}
    if not isinstance(raw, dict):
        return Distribution(value=bounds.check(raw, where))
    keys = set(raw)
    if keys == {"choices"}:
        choices = raw["choices"]
        if not isinstance(choices, list) or not choices:
            raise SpecError(f"{where}.choices: expected a non-empty list")
        return Distribution(choices=tuple(bounds.check(c, f"{where}.choices") for c in choices))
    if keys == {"low", "high"}:
        low = bounds.check(raw["low"], f"{where}.low")
        high = bounds.check(raw["high"], f"{where}.high")
        if low > high:
            raise SpecError(f"{where}: low {low!r} is greater than high {high!r}")
        if bounds.kind is float:
            low, high = float(low), float(high)
        return Distribution(low=low, high=high)
    raise SpecError(f"{where}: expected a value, {{ low = .., high = .. }} or {{ choices = [..] }}; got keys {sorted(keys)}")


class ScenarioSampler:
    """Samples scenarios for one world: declared ranges plus named edge cases.

    Use :meth:`for_world` for a world's defaults or :meth:`from_toml` for a
    file; :meth:`with_overrides` narrows ranges for a run.
    """

    def __init__(
        self,
        world: str,
        bounds: Mapping[str, Bounds],
        parameters: Mapping[str, Distribution],
        edge_cases: Mapping[str, Mapping[str, Distribution]] | None = None,
        combos: list[str] | tuple[str, ...] = (),
        held_out: list[str] | tuple[str, ...] = (),
    ):
        self.world = world
        self.bounds = dict(bounds)
        self.parameters = {name: parameters[name] for name in bounds}
        self.edge_cases = {name: dict(case) for name, case in (edge_cases or {}).items()}
        self.combos = tuple(combos)
        self.held_out = tuple(held_out)
        for combo in (*self.combos, *self.held_out):
            self.split_edge_case(combo)

    # -- construction ----------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str, base: ScenarioSampler | None = None) -> ScenarioSampler:
        """Build from a TOML-shaped dict; ``base`` gives bounds and defaults the dict may override."""
        allowed = {"world", "parameters", "edge_cases", "combos", "held_out"}
        for key in data:
            if key not in allowed:
                raise SpecError(f"{source}: unknown key {key!r} (expected {sorted(allowed)})")
        if base is None:
            if "world" not in data:
                raise SpecError(f"{source}: missing key 'world' (the Gymnasium id the scenarios are for)")
            base = cls.for_world(str(data["world"]), where=f"{source}: world")
        elif "world" in data and data["world"] != base.world:
            raise SpecError(f"{source}: world {data['world']!r} does not match {base.world!r}")
        parameters = dict(base.parameters)
        for name, raw in _table(data, "parameters", source).items():
            parameters[name] = base._distribution(name, raw, f"{source}: parameters.{name}")
        edge_cases = dict(base.edge_cases)
        for case, table in _table(data, "edge_cases", source).items():
            if not _NAME.match(case):
                raise SpecError(f"{source}: edge_cases.{case}: names use lower-case letters, digits, '-' and '_'")
            if not isinstance(table, dict):
                raise SpecError(f"{source}: edge_cases.{case}: expected a table of parameters")
            edge_cases[case] = {
                name: base._distribution(name, raw, f"{source}: edge_cases.{case}.{name}") for name, raw in table.items()
            }
        combos = data.get("combos", list(base.combos))
        if not isinstance(combos, list) or not all(isinstance(c, str) for c in combos):
            raise SpecError(f"{source}: combos: expected a list of strings like 'ice + night'")
        held_out = data.get("held_out", list(base.held_out))
        if not isinstance(held_out, list) or not all(isinstance(c, str) for c in held_out):
            raise SpecError(f"{source}: held_out: expected a list of edge cases or combinations like 'ice + night'")
        for part in (part.strip() for name in held_out for part in name.split("+")):
            if part not in edge_cases:
                raise SpecError(f"{source}: held_out: {unknown_name_message(f'edge case of {base.world}', part, list(edge_cases))}")
        try:  # the constructor checks that every combo names declared edge cases
            return cls(base.world, base.bounds, parameters, edge_cases, combos, held_out)
        except UnknownNameError as exc:
            raise SpecError(f"{source}: combos: {exc}") from None

    @classmethod
    def from_toml(cls, path: str | os.PathLike) -> ScenarioSampler:
        """Read a scenario file; bad ranges or unknown parameters raise SpecError naming the file and key."""
        try:
            with open(path, "rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            raise SpecError(f"{path}: scenario file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise SpecError(f"{path}: invalid TOML: {exc}") from None
        return cls.from_dict(data, str(path))

    @classmethod
    def for_world(cls, world_id: str, *, where: str = "") -> ScenarioSampler | None:
        """The default sampler of a world registered with Gymnasium (its environment class's
        ``default_scenarios()``); None for a world that declares no scenarios."""
        env_class = world_class(world_id, where=where)
        declare = getattr(env_class, "default_scenarios", None)
        return declare() if callable(declare) else None

    @classmethod
    def declare(
        cls,
        world: str,
        bounds: Mapping[str, Bounds],
        parameters: Mapping[str, Any],
        edge_cases: Mapping[str, Mapping[str, Any]] | None = None,
        combos: list[str] | tuple[str, ...] = (),
        held_out: list[str] | tuple[str, ...] = (),
    ) -> ScenarioSampler:
        """A world's defaults, written in the TOML shape (checked like a file)."""
        missing = sorted(set(bounds) - set(parameters))
        if missing:
            raise SpecError(f"defaults of {world}: no distribution for {missing}")
        blank = cls(world, bounds, {name: Distribution(value=0) for name in bounds})
        data = {"parameters": dict(parameters), "edge_cases": dict(edge_cases or {}), "combos": list(combos), "held_out": list(held_out)}
        return cls.from_dict(data, f"defaults of {world}", base=blank)

    def with_overrides(self, **ranges: Any) -> ScenarioSampler:
        """A copy with some distributions replaced: ``friction=(0.1, 0.2)``, ``lane_width=1.0``,
        ``weather={"choices": [...]}`` (a 2-tuple is a range)."""
        parameters = dict(self.parameters)
        for name, raw in ranges.items():
            parameters[name] = self._distribution(name, raw, f"override {name}")
        return ScenarioSampler(self.world, self.bounds, parameters, self.edge_cases, self.combos, self.held_out)

    def is_held_out(self, edge_case: str | None) -> bool:
        """Whether ``edge_case`` (``"ice + night"``) is held out: listed, or with a held-out part."""
        names = self.split_edge_case(edge_case)
        return bool(names) and (COMBINE.join(names) in self.held_out or any(name in self.held_out for name in names))

    def in_distribution(self) -> ScenarioSampler:
        """A copy without the held-out edge cases and combinations: what training may sample."""
        edge_cases = {name: case for name, case in self.edge_cases.items() if not self.is_held_out(name)}
        combos = [combo for combo in self.combos if not self.is_held_out(combo)]
        return ScenarioSampler(self.world, self.bounds, self.parameters, edge_cases, combos)

    def _distribution(self, name: str, raw: Any, where: str) -> Distribution:
        if name not in self.bounds:
            raise SpecError(unknown_name_message(f"scenario parameter of {self.world}", name, list(self.bounds), where))
        return parse_distribution(raw, self.bounds[name], where)

    # -- use ---------------------------------------------------------------------

    @property
    def parameter_names(self) -> list[str]:
        return list(self.bounds)

    @property
    def edge_case_names(self) -> list[str]:
        """Declared edge cases, then declared combinations (``"ice + night"``), less the held-out ones."""
        return [name for name in (*self.edge_cases, *self.combos) if not self.is_held_out(name)]

    @property
    def held_out_names(self) -> list[str]:
        """The declared edge cases and combinations that are held out (for evaluation only)."""
        return [name for name in (*self.edge_cases, *self.combos) if self.is_held_out(name)]

    def split_edge_case(self, edge_case: str | None) -> list[str]:
        """``"ice + night"`` → ``["ice", "night"]``; unknown names raise UnknownNameError."""
        if not edge_case:
            return []
        names = [part.strip() for part in edge_case.split("+")]
        for name in names:
            if name not in self.edge_cases:
                raise UnknownNameError(f"edge case of {self.world}", name, self.edge_cases)
        return names

    def sample(self, rng: np.random.Generator, edge_case: str | None = None) -> dict[str, Any]:
        """One scenario: ``{"world", "edge_cases", <every parameter>}``, deterministic given ``rng``."""
        names = self.split_edge_case(edge_case)
        distributions = dict(self.parameters)
        for name in names:
            distributions.update(self.edge_cases[name])
        scenario: dict[str, Any] = {"world": self.world, "edge_cases": names}
        for name in self.bounds:
            scenario[name] = distributions[name].draw(rng)
        return scenario

    def validate(self, scenario: Mapping[str, Any], where: str = "scenario") -> dict[str, Any]:
        """Check a given scenario is complete and within bounds; return a clean copy."""
        unknown = sorted(set(scenario) - set(self.bounds) - {"world", "edge_cases"})
        if unknown:
            raise SpecError(unknown_name_message(f"scenario parameter of {self.world}", unknown[0], list(self.bounds), where))
        missing = [name for name in self.bounds if name not in scenario]
        if missing:
            raise SpecError(f"{where}: missing parameters {missing}")
        clean: dict[str, Any] = {"world": self.world, "edge_cases": list(scenario.get("edge_cases", []))}
        for name, bounds in self.bounds.items():
            clean[name] = bounds.check(scenario[name], f"{where}: {name}")
        return clean

    def to_toml(self) -> str:
        """This sampler as a scenario file that :meth:`from_toml` reads back to an equal sampler."""
        lines = [f"world = {_toml(self.world)}", f"combos = {_toml(list(self.combos))}"]
        lines += [f"held_out = {_toml(list(self.held_out))}"] if self.held_out else []
        lines += ["", "[parameters]"]
        lines += [f"{name} = {_toml(d.as_toml_value())}" for name, d in self.parameters.items()]
        for case, table in self.edge_cases.items():
            lines += ["", f'[edge_cases."{case}"]']
            lines += [f"{name} = {_toml(d.as_toml_value())}" for name, d in table.items()]
        return "\n".join(lines) + "\n"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ScenarioSampler):
            return NotImplemented
        return (self.world, self.parameters, self.edge_cases, self.combos, self.held_out) == (
            other.world,
            other.parameters,
            other.edge_cases,
            other.combos,
            other.held_out,
        )

    def __repr__(self) -> str:
        return f"ScenarioSampler({self.world!r}, {len(self.bounds)} parameters, edge cases {self.edge_case_names})"


def sampler_for(world_id: str, sampler: ScenarioSampler | None = None) -> ScenarioSampler | None:
    """``sampler`` when given (it must be for ``world_id``), else the world's default; None for a world
    without scenarios (not a tutelage world)."""
    if sampler is not None:
        if sampler.world != world_id:
            raise SpecError(f"scenario sampler: its scenarios are for {sampler.world!r}, not {world_id!r}")
        return sampler
    return ScenarioSampler.for_world(world_id)


def world_class(world_id: str, *, where: str = "WORLD") -> Any:
    """The environment class of a world registered with Gymnasium (importing its module)."""
    import gymnasium

    if world_id not in gymnasium.registry:
        raise UnknownNameError("world", world_id, gymnasium.registry, where=where)
    entry_point = gymnasium.spec(world_id).entry_point
    if not isinstance(entry_point, str):
        return entry_point
    module_name, _, class_name = entry_point.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def _table(data: Mapping[str, Any], key: str, source: str) -> dict[str, Any]:
    table = data.get(key, {})
    if not isinstance(table, dict):
        raise SpecError(f"{source}: {key}: expected a table")
    return table


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
