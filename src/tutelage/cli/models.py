"""``tutelage models``: the models in the lineage registry, as a table or a family tree."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from tutelage.errors import UserError
from tutelage.runs.registry import ENV_VAR, Lineage, default_path, forest

NAME = "models"
HELP = "list the models in the lineage registry (--tree draws their family tree)"


def add_registry_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--registry", metavar="PATH", help=f"lineage registry (default: ${ENV_VAR} or runs/lineage.db)")


def open_registry(path: str | None) -> Lineage:
    """The registry at ``path`` (or the default); a missing file is a clear error, never created here."""
    target = Path(path) if path else default_path()
    if not target.is_file():
        raise UserError(f"{target}: no lineage registry here; run `tutelage run` first or pass --registry PATH")
    return Lineage(target)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_registry_argument(parser)
    parser.add_argument("--tree", action="store_true", help="draw the family tree (teacher → student → int8 student)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def success(model: dict[str, Any]) -> str:
    rate = model["metrics"].get("success_rate")
    return f"{100 * rate:.1f} %" if rate is not None else "—"


def model_label(model: dict[str, Any]) -> str:
    text = f"{model['model_type']} · {model['method']} · {model['n_params']:,} params · success {success(model)}"
    return f"[bold]{escape(model['id'][:12])}[/] {escape(text)}"


def add_branch(tree: Tree, node: dict[str, Any]) -> None:
    label = f"[magenta]teacher[/] [bold]{escape(node['teacher'])}[/]" if "teacher" in node else model_label(node["model"])
    branch = tree.add(label)
    for child in node["children"]:
        add_branch(branch, child)


def run(args: argparse.Namespace) -> int:
    lineage = open_registry(args.registry)
    models = lineage.models()
    if args.json:
        print(json.dumps(forest(models) if args.tree else {"models": models}, indent=2, default=str))
        return 0
    console = Console(highlight=False)
    if args.tree:
        tree = Tree(escape(f"lineage ({lineage.path})"))
        for root in forest(models):
            add_branch(tree, root)
        console.print(tree)
        return 0
    table = Table(title=escape(f"models ({lineage.path})"))
    for column in ("id", "type", "method", "parent", "teacher", "params", "success", "run"):
        table.add_column(column, overflow="fold", no_wrap=column == "id")
    for m in models:
        cells = (m["id"][:12], m["model_type"], m["method"], (m["parent"] or "")[:12], m["teacher"] or "",
                 f"{m['n_params']:,}", success(m), ", ".join(m["runs"]))
        table.add_row(*(escape(str(cell)) for cell in cells))
    console.print(table)
    return 0
