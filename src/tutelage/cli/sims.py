"""``tutelage sims``: the run specs you can pass to ``tutelage run``."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tutelage.runs.spec import packaged_specs, parse

NAME = "sims"
HELP = "list the packaged run specs (and those in ./sims)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def describe(source: str, text: str) -> dict:
    raw = parse(source, text)
    stages = [s.get("name", s.get("type", "?")) for s in raw.get("stages", []) if isinstance(s, dict)]
    return {"name": raw.get("name", ""), "world": raw.get("world", ""), "description": raw.get("description", ""),
            "stages": stages, "source": source}


def run(args: argparse.Namespace) -> int:
    packaged = sorted(packaged_specs().items())
    found = [describe(f"{name} (packaged)", entry.read_text(encoding="utf-8")) for name, entry in packaged]
    shipped = {Path(str(entry)).resolve() for _, entry in packaged}
    local = Path("sims")
    if local.is_dir():  # a source checkout's sims/ links to the packaged files: list each spec once
        found += [describe(str(path), path.read_text(encoding="utf-8"))
                  for path in sorted(local.glob("*.toml")) if path.resolve() not in shipped]
    if args.json:
        print(json.dumps({"sims": found}, indent=2))
        return 0
    table = Table(title="run specs (tutelage run NAME_OR_FILE)")
    for column in ("name", "world", "stages", "source"):
        table.add_column(column, overflow="fold")
    for spec in found:
        table.add_row(spec["name"], spec["world"], " → ".join(spec["stages"]), spec["source"])
    Console().print(table)
    return 0
