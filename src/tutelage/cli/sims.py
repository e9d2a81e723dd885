"""``tutelage sims``: the run specs you can pass to ``tutelage run``."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tutelage.errors import UnknownNameError
from tutelage.runs.spec import packaged_specs, parse

NAME = "sims"
HELP = "list the packaged run specs (and those in ./sims)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--show", metavar="NAME", help="print a packaged spec (its path as a first comment line) to copy")


def describe(source: str, text: str) -> dict:
    raw = parse(source, text)
    stages = [s.get("name", s.get("type", "?")) for s in raw.get("stages", []) if isinstance(s, dict)]
    return {"name": raw.get("name", ""), "world": raw.get("world", ""), "description": raw.get("description", ""),
            "stages": stages, "source": source}


def show(name: str) -> int:
    packaged = packaged_specs()
    if name not in packaged:
        raise UnknownNameError("packaged spec", name, packaged, "--show")
    print(f"# {packaged[name]}")
    print(packaged[name].read_text(encoding="utf-8"), end="")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.show:
        return show(args.show)
    packaged = dict(sorted(packaged_specs().items()))
    texts = {name: entry.read_text(encoding="utf-8") for name, entry in packaged.items()}
    found = [describe(f"{name} (packaged)", text) for name, text in texts.items()]
    local = Path("sims")
    if local.is_dir():  # a source checkout's sims/ holds (links to) the packaged files: list each spec once
        for path in sorted(local.glob("*.toml")):
            text = path.read_text(encoding="utf-8")
            if texts.get(path.stem) != text:
                found.append(describe(str(path), text))
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
