"""Run specs: load a TOML file (or a packaged one by name), validate all of it, resolve it.

A spec names the run, its seed and world, optional scenario settings, and an
ordered list of ``[[stages]]``, each a registered stage type with its settings.
A ``[quick]`` table holds per-stage overrides applied by ``--quick``::

    name = "driving"
    seed = 0
    world = "tutelage/Driving-v0"

    [[stages]]
    name = "data"
    type = "generate"
    episodes = 40

    [quick.data]
    episodes = 6

Everything is checked before anything is written: an unknown key, a wrong
type, an unknown world, stage type or plugin name raises one
:class:`~tutelage.errors.SpecError` / :class:`~tutelage.errors.UnknownNameError`
naming the file, the key and the closest valid name.
"""
from __future__ import annotations

import importlib.util
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from tutelage import fileio
from tutelage.errors import SpecError, UnknownNameError, os_reason
from tutelage.plugins import PluginHost
from tutelage.runs.schema import Field, check_table

TOP_LEVEL = {
    "name": Field(str, help="run name, used in the run folder's name"),
    "description": Field(str, ""),
    "seed": Field(int, 0, minimum=0, maximum=2**32 - 1),
    "world": Field(str, help="a registered world id such as 'tutelage/Driving-v0'"),
    "plugins": Field(list, [], items=str, help="plugins that must be loaded"),
    "scenarios": Field(dict, {}),
    "stages": Field(list, help="the ordered [[stages]] of the run"),
    "quick": Field(dict, {}),
    "collapse_guard": Field(dict, {}, help="{ min_real_fraction = 0.1, max_depth = 3, action = 'warn' | 'refuse' }"),
}
SCENARIOS = {
    "edge_case_fraction": Field(float, 0.0, minimum=0.0, maximum=1.0, help="default share of named edge cases"),
    "file": Field(str, None, help="a scenario TOML replacing the world's default ranges, relative to the spec"),
    "parameters": Field(dict, {}, help="ranges that override the world's: friction = { low = 0.1, high = 0.3 }"),
    "edge_cases": Field(dict, {}, help="named edge cases to add or replace: ice = { friction = { low = 0.1, high = 0.2 } }"),
    "combos": Field(list, None, items=str, help="combined edge cases such as 'pedestrian-crossing + ice'"),
}
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MAX_DEPTH = 16  # tables and lists nested deeper than this are refused
MAX_SPEC_BYTES = 1 << 20


@dataclass(frozen=True)
class StageSpec:
    """One validated stage: its unique name, its type and its settings."""

    index: int
    name: str
    type: str
    settings: dict[str, Any]


@dataclass(frozen=True)
class RunSpec:
    """A validated, resolved run spec."""

    source: str
    name: str
    description: str
    seed: int
    world: str
    plugins: list[str]
    scenarios: dict[str, Any]
    stages: list[StageSpec]
    quick: bool = False
    collapse_guard: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The resolved spec as JSON-able data (what a run folder records)."""
        return {
            "source": self.source, "name": self.name, "description": self.description, "seed": self.seed,
            "world": self.world, "plugins": self.plugins, "scenarios": self.scenarios, "quick": self.quick,
            "collapse_guard": self.collapse_guard, "stages": [{"name": s.name, "type": s.type, "settings": s.settings} for s in self.stages],
        }

    def sampler(self) -> Any:
        """The run's :class:`~tutelage.sim.scenarios.ScenarioSampler`: the world's ranges and edge cases
        (or ``scenarios.file``'s) with the spec's ``[scenarios]`` overrides."""
        return build_sampler(self.world, self.scenarios, self.source)


def build_sampler(world: str, scenarios: Mapping[str, Any], source: str) -> Any:
    """A scenario sampler from a spec's checked ``[scenarios]`` table; errors name ``source`` and the key."""
    from tutelage.sim.scenarios import ScenarioSampler, sampler_for

    overrides = {key: scenarios[key] for key in ("parameters", "edge_cases", "combos") if scenarios.get(key)}
    if not scenarios.get("file") and not overrides:
        return sampler_for(world)
    base = (ScenarioSampler.from_toml(scenarios["file"]) if scenarios.get("file")
            else ScenarioSampler.for_world(world, where=f"{source}.world"))
    if base.world != world:
        raise SpecError(f"{source}.scenarios.file: the scenarios are for {base.world!r}, the run's world is {world!r}")
    return ScenarioSampler.from_dict(overrides, f"{source}.scenarios", base=base) if overrides else base


@dataclass
class SpecCheck:
    """What a stage type's ``validate`` may consult: the file, the world, earlier stages, registries."""

    source: str
    where: str
    world: str
    host: PluginHost
    spec_dir: Path
    earlier: list[StageSpec] = field(default_factory=list)
    scenarios: dict[str, Any] = field(default_factory=dict)
    collapse_guard: dict[str, Any] = field(default_factory=dict)

    def registry_get(self, kind: str, name: str, key: str) -> Any:
        """Look ``name`` up in a registry; an unknown name names this stage's ``key``."""
        return self.host.registry(kind).get(name, where=f"{self.where}.{key}")

    def earlier_output(self, name: str, key: str, kind: str) -> StageSpec:
        """The earlier stage called ``name`` whose type produces ``kind`` (``"model"`` or ``"dataset"``).

        Stage types declare what they produce in an optional ``produces`` tuple.
        """
        stage_types = self.host.registry("stage_types")
        candidates = {s.name: s for s in self.earlier if kind in getattr(stage_types.get(s.type), "produces", ())}
        if name not in candidates:
            raise UnknownNameError(f"earlier stage producing a {kind}", name, candidates, f"{self.where}.{key}")
        return candidates[name]

    def error(self, key: str, message: str) -> SpecError:
        return SpecError(f"{self.where}.{key}: {message}")

    def sampler(self) -> Any:
        """The run's scenario sampler (None for a world without scenarios)."""
        return build_sampler(self.world, self.scenarios, self.source)


def packaged_specs() -> dict[str, Any]:
    """Run specs shipped inside the package, by name (``driving``, ``reach``)."""
    folder = resources.files("tutelage") / "sims"
    if not folder.is_dir():
        return {}
    return {entry.name[: -len(".toml")]: entry for entry in folder.iterdir() if entry.name.endswith(".toml")}


def locate(spec: str) -> tuple[str, str]:
    """Find a spec by path or packaged name; return ``(source label, TOML text)``."""
    path = Path(spec)
    if os.path.lexists(path) and not path.is_dir():
        return str(path), read_text(path)
    packaged = packaged_specs()
    if spec in packaged:
        return f"{spec} (packaged {packaged[spec].name})", packaged[spec].read_text(encoding="utf-8")
    if path.is_dir():
        raise SpecError(f"{spec}: is a directory, not a run spec file")
    if path.suffix == ".toml" or "/" in spec:
        raise SpecError(f"{spec}: run spec file not found (packaged specs: {', '.join(sorted(packaged)) or 'none'})")
    raise UnknownNameError("run spec", spec, packaged)


def read_text(path: Path) -> str:
    """A spec file's UTF-8 text; an unreadable, oversized or non-UTF-8 file is a :class:`SpecError` naming it."""
    try:
        data = fileio.read_limited(path, MAX_SPEC_BYTES)
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the run spec: {os_reason(exc)}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: run spec is not UTF-8 text (byte {exc.start}); "
                        "save it as UTF-8 TOML (binary or UTF-16 files are refused)") from None


def parse(source: str, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{source}: not valid TOML: {exc}") from None
    except RecursionError:
        raise SpecError(f"{source}: tables or lists nested deeper than {MAX_DEPTH} levels") from None


def check_values(value: Any, where: str, depth: int = 0) -> None:
    """Every number finite and nothing nested deeper than :data:`MAX_DEPTH`, anywhere in a parsed spec."""
    if depth > MAX_DEPTH:
        raise SpecError(f"{where}: tables or lists nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"{where}: must be a finite number, got {value}")
    items = value.items() if isinstance(value, Mapping) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        check_values(item, f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}", depth + 1)


def load_spec(spec: str, host: PluginHost, *, quick: bool = False) -> RunSpec:
    """Load, validate and resolve a run spec (a path or a packaged name)."""
    source, text = locate(spec)
    spec_dir = Path(spec).parent if Path(spec).is_file() else Path(".")
    return validate(parse(source, text), source, host, quick=quick, spec_dir=spec_dir)


def validate(raw: Mapping[str, Any], source: str, host: PluginHost, *, quick: bool = False, spec_dir: Path = Path(".")) -> RunSpec:
    """Check every key of a parsed spec; raise one clear error naming ``source`` and the key."""
    check_values(raw, source)
    top = check_table(raw, TOP_LEVEL, source)
    if not NAME_PATTERN.match(top["name"]):
        raise SpecError(f"{source}.name: {top['name']!r} must be letters, digits, '-', '_' or '.'")
    _check_plugins(top["plugins"], host, source)
    host.registry("worlds").get(top["world"], where=f"{source}.world")
    scenarios = check_table(top["scenarios"], SCENARIOS, f"{source}.scenarios")
    if scenarios["file"] is not None:
        path = (spec_dir / scenarios["file"]).resolve()
        if not path.is_file():
            raise SpecError(f"{source}.scenarios.file: scenario file {str(path)!r} not found")
        scenarios = {**scenarios, "file": str(path)}
    if any(scenarios[key] for key in ("file", "parameters", "edge_cases", "combos")):
        # every range and edge case checked before anything is written
        _check_held_out(build_sampler(top["world"], scenarios, source), top["world"], f"{source}.scenarios")
    if not top["stages"]:
        raise SpecError(f"{source}.stages: a run needs at least one [[stages]] table")
    tables = [_stage_table(t, i, source) for i, t in enumerate(top["stages"])]
    names = [t["name"] for t in tables]
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise SpecError(f"{source}.stages[{i}].name: stage name {name!r} is used twice; give each stage a unique name")
    overrides = _quick_overrides(top["quick"], names, source)
    guard = _collapse_guard(top["collapse_guard"], source)
    stages: list[StageSpec] = []
    for i, table in enumerate(tables):
        where = f"{source}.stages[{i}] ({table['name']})"
        stage_type = host.registry("stage_types").get(table["type"], where=f"{where}.type")
        settings = {k: v for k, v in table.items() if k not in ("name", "type")}
        check = SpecCheck(source, where, top["world"], host, spec_dir, list(stages), scenarios, guard)
        full = validate_settings(stage_type, settings, check)
        if table["name"] in overrides:  # checked with or without --quick, so a typo shows either way
            check.where = f"{source}.quick.{table['name']}"
            fast = validate_settings(stage_type, {**settings, **overrides[table["name"]]}, check)
            full = fast if quick else full
        stages.append(StageSpec(i, table["name"], table["type"], full))
    return RunSpec(source, top["name"], top["description"], top["seed"], top["world"], top["plugins"], scenarios, stages, quick,
                   guard)


def _collapse_guard(table: dict[str, Any], source: str) -> dict[str, Any]:
    """The spec's ``collapse_guard`` table, checked, with its defaults filled in."""
    from dataclasses import asdict

    from tutelage.methods.collapse_guard import CollapseGuard

    try:
        return asdict(CollapseGuard.from_spec(table))
    except SpecError as exc:
        raise SpecError(f"{source}.{exc}") from None


def validate_settings(stage_type: Any, settings: dict[str, Any], check: SpecCheck) -> dict[str, Any]:
    """Apply a stage type's optional ``settings`` schema, its optional ``validate``, then the checks every stage gets."""
    schema = getattr(stage_type, "settings", None)
    if schema is not None:
        settings = check_table(settings, schema, check.where)
    validator = getattr(stage_type, "validate", None)
    if validator is not None:
        settings = validator(settings, check)
    _check_student(settings, check)
    _check_scenario_names(settings, check)
    if settings.get("backend") == "ray" and importlib.util.find_spec("ray") is None:
        raise check.error("backend", "'ray' needs Ray, which is not installed (pip install 'tutelage[ray]'), "
                                     "or use backend = \"process\"")
    return settings


def _check_held_out(sampler: Any, world: str, where: str) -> None:
    """A spec's scenarios may hold more edge cases out of training than the world does, never fewer."""
    from tutelage.sim.scenarios import sampler_for

    declared = sampler_for(world)
    dropped = sorted(set(declared.held_out) - set(sampler.held_out)) if sampler is not None and declared else []
    if dropped:
        raise SpecError(f"{where}: {', '.join(dropped)} held out of training by {world}; "
                        "a spec may hold more edge cases out, never fewer (they are for evaluation only)")


def _check_scenario_names(settings: Mapping[str, Any], check: SpecCheck) -> None:
    """``gif_edge_case`` and ``scenario_type.parameter`` must name an edge case and a parameter of the run's scenarios."""
    edge_case = settings.get("gif_edge_case")
    kind = settings.get("scenario_type")
    parameter = kind.get("parameter") if isinstance(kind, Mapping) else None
    if not edge_case and not parameter:
        return
    sampler = check.sampler()
    if sampler is None:
        return
    if edge_case:
        names = [part.strip() for part in str(edge_case).split("+")]
        for name in names:
            if name not in sampler.edge_cases:
                raise UnknownNameError(f"edge case of {check.world}", name, sampler.edge_cases, f"{check.where}.gif_edge_case")
    if parameter and parameter not in sampler.parameter_names:
        raise UnknownNameError(f"scenario parameter of {check.world}", str(parameter), sampler.parameter_names,
                               f"{check.where}.scenario_type.parameter")


def _check_student(settings: Mapping[str, Any], check: SpecCheck) -> None:
    """A ``student`` table's options, checked by its model type (``validate_options``, else a build on the world's sizes)."""
    student = settings.get("student")
    if not isinstance(student, Mapping) or not isinstance(student.get("options"), Mapping):
        return
    where = f"{check.where}.student.options"
    model_type = check.registry_get("model_types", student.get("model_type", "mlp"), "student.model_type")
    options = dict(student["options"])
    try:
        if hasattr(model_type, "validate_options"):
            model_type.validate_options(options, where)
        else:
            from tutelage.sim.spaces import io_sizes

            inputs, outputs = io_sizes(check.world)
            model_type.build((inputs,), outputs, seed=0, **options)
    except SpecError as exc:
        raise SpecError(str(exc) if str(exc).startswith(where) else f"{where}: {exc}") from None
    except (TypeError, ValueError, OverflowError, MemoryError) as exc:
        raise SpecError(f"{where}: model type {student.get('model_type', 'mlp')!r} cannot be built with these "
                        f"options: {exc}") from None


def _stage_table(table: Any, index: int, source: str) -> dict[str, Any]:
    where = f"{source}.stages[{index}]"
    if not isinstance(table, dict):
        raise SpecError(f"{where}: expected a table, got {type(table).__name__} {table!r}")
    if "type" not in table:
        raise SpecError(f"{where}: missing required key 'type' (a registered stage type)")
    for key in ("type", "name"):
        if key in table and not isinstance(table[key], str):
            raise SpecError(f"{where}.{key}: expected a string, got {type(table[key]).__name__} {table[key]!r}")
    table = {"name": table["type"], **table}
    if not NAME_PATTERN.match(table["name"]):
        raise SpecError(f"{where}.name: {table['name']!r} must be letters, digits, '-', '_' or '.'")
    return table


def _quick_overrides(quick: Mapping[str, Any], names: list[str], source: str) -> dict[str, dict[str, Any]]:
    for stage, table in quick.items():
        if stage not in names:
            raise UnknownNameError("stage", stage, names, f"{source}.quick")
        if not isinstance(table, dict):
            raise SpecError(f"{source}.quick.{stage}: expected a table of settings, got {type(table).__name__}")
        if "type" in table or "name" in table:
            raise SpecError(f"{source}.quick.{stage}: a quick override may change settings, not 'type' or 'name'")
    return dict(quick)


def _check_plugins(names: list[str], host: PluginHost, source: str) -> None:
    loaded = {info.name: info for info in host.plugins()}
    for i, name in enumerate(names):
        if name not in loaded:
            raise UnknownNameError("plugin", name, loaded, f"{source}.plugins[{i}]")
        if loaded[name].error:
            raise SpecError(f"{source}.plugins[{i}]: plugin {name!r} failed to load: {loaded[name].error}")
