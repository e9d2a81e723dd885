"""A run folder's progress on disk: which stages finished and what they returned.

``state.json`` is rewritten atomically after every finished stage, so a kill at
any moment leaves the last finished stage recorded; ``--resume`` continues
after it.
"""
from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from tutelage import fileio
from tutelage.errors import UserError

STATE_FILE = "state.json"
SPEC_FILE = "spec.json"


class RunState:
    """Finished stages (name → result and seconds) and the run's status."""

    def __init__(self, run_dir: Path, data: dict[str, Any] | None = None):
        self.run_dir = run_dir
        self.data = data or {"run_id": f"{run_dir.name}-{secrets.token_hex(3)}", "status": "running", "done": {}, "order": []}

    @classmethod
    def load(cls, run_dir: Path) -> RunState:
        path = run_dir / STATE_FILE
        if not path.is_file():
            raise UserError(f"{run_dir}: not a run folder to resume (no {STATE_FILE})")
        try:
            data = json.loads(fileio.read_limited(path, 64 << 20).decode("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise UserError(f"{path}: corrupted run state: {type(exc).__name__}: {str(exc)[:200]}") from None
        shape = {"run_id": str, "status": str, "done": dict, "order": list}
        wrong = [key for key, kind in shape.items() if not isinstance(data, dict) or not isinstance(data.get(key), kind)]
        if wrong:
            raise UserError(f"{path}: corrupted run state: field {wrong[0]!r} is missing or of the wrong type")
        return cls(run_dir, data)

    @property
    def run_id(self) -> str:
        """Unique across runs folders (two runs of one spec may start in the same second)."""
        return self.data["run_id"]

    @property
    def done(self) -> dict[str, dict[str, Any]]:
        return self.data["done"]

    def finish_stage(self, name: str, result: dict[str, Any], seconds: float) -> None:
        self.done[name] = {"result": result, "seconds": seconds}
        if name not in self.data["order"]:
            self.data["order"].append(name)
        self.save()

    def set_status(self, status: str) -> None:
        self.data["status"] = status
        self.save()

    def save(self) -> None:
        fileio.write_json(self.run_dir / STATE_FILE, self.data)
