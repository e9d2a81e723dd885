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
    parser.add_argument("--registry", metavar="PATH",
                        help=f"lineage registry (default: ${ENV_VAR}, else runs/lineage.db in the current folder)")


def open_registry(path: str | None) -> Lineage:
    """The registry at ``path`` (or the default); a missing file is a clear error, never created here."""
    target = Path(path) if path else default_path()
    if not target.is_file():
        raise UserError(f"{target}: no lineage registry here; `tutelage run`, train, distill, quantize and generate "
                        "create it (or pass --registry PATH)")
    return Lineage(target)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", metavar="MODEL",
                        help="only this model and its descendants (a name, a model file, an id or an id prefix)")
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


def family(models: list[dict[str, Any]], root: str) -> list[dict[str, Any]]:
    """The model ``root`` and every model descended from it, in registry order."""
    kept = {root}
    for m in models:  # parents are registered before their children
        if m["parent"] in kept:
            kept.add(m["id"])
    return [m for m in models if m["id"] in kept]


def run(args: argparse.Namespace) -> int:
    lineage = open_registry(args.registry)
    models = lineage.models()
    if args.model:
        models = family(models, lineage.find_model(args.model)["id"])
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
    wide = console.width >= 120  # parents, sizes and the runs that made each model only where they fit
    headings = ["name", "id", "type", "method", *(["parent"] if wide else []), "teacher",
                *(["params"] if wide else []), "success", *(["runs"] if wide else [])]
    for column in headings:
        table.add_column(column, no_wrap=column not in ("name", "teacher", "runs"),
                         justify="right" if column in ("params", "success") else "left")
    for m in models:
        cells = {"name": Path(m["path"]).name.removesuffix(".safetensors"), "id": m["id"][:8], "type": m["model_type"],
                 "method": m["method"], "parent": (m["parent"] or "")[:8], "teacher": m["teacher"] or "",
                 "params": f"{m['n_params']:,}", "success": success(m), "runs": ", ".join(m["runs"])}
        table.add_row(*(escape(str(cells[column])) for column in headings))
    console.print(table)
    return 0
