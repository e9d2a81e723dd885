"""``tutelage plugins``: every plugin, what it contributes and any error."""
from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from tutelage.plugins import get_host

NAME = "plugins"
HELP = "list plugins and what each contributes"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    infos = get_host(args.plugin).plugins()
    if args.json:
        print(json.dumps({"plugins": [info.as_dict() for info in infos]}, indent=2))
        return 0
    table = Table(title="tutelage plugins")
    for column in ("name", "version", "source", "contributes", "error"):
        table.add_column(column, overflow="fold")
    for info in infos:
        contributed = "\n".join(
            f"{kind.replace('_', ' ')}: {', '.join(names)}" for kind, names in info.contributions.items() if names
        )
        table.add_row(info.name, info.version, info.source, contributed, f"[red]{info.error}[/]" if info.error else "")
    Console().print(table)
    return 0
