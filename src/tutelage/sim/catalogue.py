"""Failure catalogues: failing scenarios of one world and policy, to replay exactly.

Written by :func:`tutelage.rollouts.failure_search.search_failures`, replayed by
``tutelage generate --scenarios``; every scenario is validated against the
world's bounds when read.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tutelage.errors import SpecError
from tutelage.fileio import write_json
from tutelage.sim.scenarios import sampler_for

FORMAT = "tutelage-failure-catalogue"


@dataclass
class Catalogue:
    """Failing scenarios of one world and policy, worst first."""

    world: str
    policy: dict[str, Any]
    entries: list[dict[str, Any]]
    search: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "world": self.world, "policy": self.policy, "search": self.search, "entries": self.entries}

    def save(self, path: str | Path) -> None:
        write_json(path, self.as_dict())


def load_catalogue(path: str | Path, world: str | None = None) -> Catalogue:
    """Read and check a catalogue; every scenario is validated against the world's bounds."""
    try:
        raw = Path(path).read_bytes()
        data = json.loads(raw)
    except FileNotFoundError:
        raise SpecError(f"{path}: scenario catalogue not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: not a JSON catalogue ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SpecError(f"{path}: field 'format' must be {FORMAT!r}")
    if world is not None and data.get("world") != world:
        raise SpecError(f"{path}: field 'world' is {data.get('world')!r}, not {world!r}")
    entries = data.get("entries")
    if not isinstance(entries, list) or not entries:
        raise SpecError(f"{path}: field 'entries' must be a non-empty list")
    sampler = sampler_for(data["world"])
    if sampler is None:
        raise SpecError(f"{path}: field 'world': {data['world']!r} has no scenario sampler")
    for i, entry in enumerate(entries):
        where = f"{path}: entries[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("scenario"), dict):
            raise SpecError(f"{where}.scenario: expected a table of parameters")
        for key in ("seed", "policy_seed"):
            if not isinstance(entry.get(key, 0), int) or entry.get(key, 0) < 0:
                raise SpecError(f"{where}.{key}: expected a non-negative integer")
        entry["scenario"] = sampler.validate(entry["scenario"], where=f"{where}.scenario")
    return Catalogue(data["world"], data.get("policy", {}), entries, data.get("search", {}), hashlib.sha256(raw).hexdigest())
