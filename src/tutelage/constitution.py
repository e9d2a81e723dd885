"""Constitution files: a named, versioned list of principles a critic holds outputs to.

A constitution is a TOML file::

    name = "driving"
    version = "1.0"
    world = "tutelage/Driving-v0"          # optional: the world it is written for

    [[principles]]
    id = "speed-limit"
    text = "Keep to the speed limit; it tightens at night, in the wet and on ice."
    critique = "Did the car command a speed above the limit for the conditions?"
    revision = "Lower the commanded speed to the limit."
    severity = 2.0
    check = { rule = "speed-limit", limit = 2.0, night = 1.6 }

``check.rule`` names a rule kind that a plugin contributes through the
``tutelage_rule_kinds`` hook; the other keys of ``check`` are its options.
The file's SHA-256 is part of the constitution's :attr:`Constitution.id`, which
goes into the lineage of every model trained from its critiques. Unknown keys,
unknown rule kinds, bad rule options and duplicate ids are one
:class:`~tutelage.errors.SpecError` naming the file, the principle and the key.
"""
from __future__ import annotations

import hashlib
import inspect
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from tutelage.errors import SpecError, UnknownNameError, unknown_name_message

TOP_KEYS = {"name": str, "version": str, "description": str, "world": str, "principles": list}
PRINCIPLE_KEYS = {"id": str, "text": str, "critique": str, "revision": str, "severity": (int, float), "check": dict}
REQUIRED = ("id", "text", "critique", "revision", "check")
RULE_KINDS_HOOK = "tutelage_rule_kinds"


@dataclass
class Step:
    """What a critic sees of one step: the observation, the privileged ``info`` (None for a
    sensor-only critic), the action taken before (None on the first step), the episode's scenario
    and the observation before (None on the first step)."""

    observation: Any
    info: Mapping[str, Any] | None = None
    previous_action: np.ndarray | None = None
    scenario: Mapping[str, Any] = field(default_factory=dict)
    previous_observation: Any = None

    @property
    def time(self) -> float:
        return float((self.info or {}).get("time", 0.0))


@dataclass(frozen=True)
class Principle:
    """One principle: what it asks in words, how much breaking it weighs, and its rule."""

    id: str
    text: str
    critique: str
    revision: str
    severity: float
    rule_kind: str
    options: dict[str, Any]
    rule: Any

    def check(self, step: Step, action: np.ndarray) -> str | None:
        """None when ``action`` keeps the principle at ``step``, else the reason (with numbers)."""
        return self.rule.check(step, np.asarray(action, dtype=np.float64))


@dataclass(frozen=True)
class Constitution:
    """A loaded constitution file."""

    name: str
    version: str
    principles: tuple[Principle, ...]
    sha256: str
    path: str = ""
    world: str = ""
    description: str = ""

    @property
    def id(self) -> str:
        """``name@version#hash``: names the exact file (the hash of its bytes)."""
        return f"{self.name}@{self.version}#{self.sha256[:12]}"

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.principles]

    def principle(self, principle_id: str) -> Principle:
        for p in self.principles:
            if p.id == principle_id:
                return p
        raise UnknownNameError("principle", principle_id, self.ids, self.path)

    def severity(self) -> dict[str, float]:
        return {p.id: p.severity for p in self.principles}

    def lineage(self) -> dict[str, str]:
        """What a model trained from this constitution's critiques records about it."""
        return {"constitution": self.id, "constitution_sha256": self.sha256}


def rule_kinds(host: Any) -> dict[str, Callable[..., Any]]:
    """Every rule kind the host's plugins contribute (``tutelage_rule_kinds``); a built-in keeps its
    name when another plugin offers the same one."""
    impls = getattr(host.pm.hook, RULE_KINDS_HOOK).get_hookimpls()
    builtin_first = sorted(impls, key=lambda impl: host.infos[impl.plugin_name].source != "builtin")
    kinds: dict[str, Callable[..., Any]] = {}
    for impl in builtin_first:
        for name, factory in (impl.function() or {}).items():
            kinds.setdefault(name, factory)
    return kinds


def packaged(name: str) -> Path:
    """The path of a constitution shipped with tutelage (``sims/constitutions/NAME.toml``)."""
    return Path(str(resources.files("tutelage") / "sims" / "constitutions" / f"{name}.toml"))


def resolve_path(ref: str | Path) -> Path:
    """A constitution file: a path, or the name of a packaged one (``driving``, ``arm``)."""
    path = Path(ref)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise SpecError(f"{ref}: constitution file not found")
        return path
    shipped = packaged(str(ref))
    if not shipped.is_file():
        available = sorted(p.stem for p in packaged("x").parent.glob("*.toml"))
        raise UnknownNameError("constitution", str(ref), available, "--constitution")
    return shipped


def load_constitution(ref: str | Path, kinds: Mapping[str, Callable[..., Any]]) -> Constitution:
    """Read and check a constitution file (a path or a packaged name); build each principle's rule
    from ``kinds`` (see :func:`rule_kinds`)."""
    path = resolve_path(ref)
    raw = path.read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from None
    _check_keys(data, TOP_KEYS, str(path))
    for key in ("name", "version", "principles"):
        if key not in data:
            raise SpecError(f"{path}: missing key {key!r}")
    if not data["principles"]:
        raise SpecError(f"{path}: principles: a constitution needs at least one principle")
    principles: list[Principle] = []
    for i, entry in enumerate(data["principles"]):
        principle = _principle(entry, i, path, kinds)
        if principle.id in {p.id for p in principles}:
            raise SpecError(f"{path}: principles[{i}] ({principle.id}): key 'id': duplicate id {principle.id!r}")
        principles.append(principle)
    return Constitution(data["name"], data["version"], tuple(principles), hashlib.sha256(raw).hexdigest(),
                        str(path), data.get("world", ""), data.get("description", ""))


def _check_keys(table: Any, schema: Mapping[str, Any], where: str) -> None:
    if not isinstance(table, dict):
        raise SpecError(f"{where}: must be a table, got {type(table).__name__}")
    for key, value in table.items():
        if key not in schema:
            raise SpecError(unknown_name_message("key", key, sorted(schema), where))
        if not isinstance(value, schema[key]) or isinstance(value, bool) and schema[key] is not bool:
            raise SpecError(f"{where}: key {key!r}: expected {_type_name(schema[key])}, got {type(value).__name__}")


def _type_name(kind: Any) -> str:
    return " or ".join(k.__name__ for k in kind) if isinstance(kind, tuple) else kind.__name__


def _principle(entry: Any, index: int, path: Path, kinds: Mapping[str, Callable[..., Any]]) -> Principle:
    label = entry.get("id") if isinstance(entry, dict) and isinstance(entry.get("id"), str) else None
    where = f"{path}: principles[{index}]" + (f" ({label})" if label else "")
    _check_keys(entry, PRINCIPLE_KEYS, where)
    for key in REQUIRED:
        if key not in entry:
            raise SpecError(f"{where}: missing key {key!r}")
    check = dict(entry["check"])
    kind = check.pop("rule", None)
    if not isinstance(kind, str):
        raise SpecError(f"{where}: key 'check.rule': name a rule kind (available: {', '.join(sorted(kinds))})")
    if kind not in kinds:
        raise SpecError(unknown_name_message("rule kind", kind, sorted(kinds), f"{where}: key 'check.rule'"))
    factory = kinds[kind]
    accepted = _options_of(factory)
    for key in check:
        if accepted is not None and key not in accepted:
            raise SpecError(unknown_name_message(f"option of rule {kind!r}", key, sorted(accepted), f"{where}: key 'check.{key}'"))
    try:
        rule = factory(**check)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{where}: key 'check': {exc}") from None
    severity = float(entry.get("severity", 1.0))
    if severity <= 0:
        raise SpecError(f"{where}: key 'severity': must be positive, got {severity}")
    return Principle(entry["id"], entry["text"], entry["critique"], entry["revision"], severity, kind, check, rule)


def _options_of(factory: Callable[..., Any]) -> list[str] | None:
    """The keyword options a rule factory takes (None when it takes any)."""
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return None
    return [name for name, p in parameters.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
