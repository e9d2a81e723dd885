"""``tutelage show ID``: the model card of one model in the lineage registry."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tutelage.cli.models import add_registry_argument, open_registry
from tutelage.errors import UserError

NAME = "show"
HELP = "print the model card of a model (a name such as a run's stage, a model file, an id or a unique id prefix)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", metavar="MODEL", help="a model's name (a run's stage name, e.g. bc-student, or a file's stem), "
                                                    "a .safetensors file, an id or a unique id prefix")
    add_registry_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the card as JSON")


def card(lineage: Any, model_id: str) -> dict[str, Any]:
    """Everything the registry knows about a model, its parent, children, dataset and run."""
    model = lineage.find_model(model_id)
    try:
        parent = lineage.model(model["parent"]) if model["parent"] else None
    except UserError:  # the parent was made outside this registry
        parent = None
    datasets = {d["id"]: d for d in lineage.datasets()}
    runs = {r["id"]: r for r in lineage.runs()}
    return {
        **model,
        "parent_model": {k: parent[k] for k in ("id", "model_type", "method", "n_params")} if parent else None,
        "children": [{k: c[k] for k in ("id", "model_type", "method")} for c in lineage.children(model["id"])],
        "dataset_info": datasets.get(model["dataset"]),
        "run": {k: runs[model["run_id"]][k] for k in ("id", "name", "run_dir", "status")} if model["run_id"] in runs else None,
        "file_exists": Path(model["path"]).is_file(),
    }


def file_card(path: Path, registry: str | None) -> dict[str, Any]:
    """The card of a model file: the registry's when it knows the file's id, else what the file records."""
    from tutelage import nn
    from tutelage.runs.registry import model_type_of

    model = nn.load(path)
    ident = model.info["id"]
    try:
        return card(open_registry(registry), ident)
    except UserError:  # no registry, or a model made elsewhere
        pass
    lineage = model.info.get("lineage") or {}
    return {
        "id": ident, "path": str(path), "model_type": model_type_of(model.info), "method": lineage.get("method") or "—",
        "parent": lineage.get("parent"), "dataset": lineage.get("dataset"), "teacher": lineage.get("teacher"),
        "n_params": int(model.n_params), "size_bytes": path.stat().st_size, "metrics": {},
        "run_id": (model.info.get("metadata") or {}).get("run"), "parent_model": None, "children": [],
        "dataset_info": None, "run": None, "file_exists": True,
        "data_depth": lineage.get("data_depth"), "collapse_guard": lineage.get("collapse_guard"),
    }


def run(args: argparse.Namespace) -> int:
    target = Path(args.id)
    is_file = target.is_file() or (target.suffix == ".safetensors" and os.sep in args.id)
    info = file_card(target, args.registry) if is_file else card(open_registry(args.registry), args.id)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    table = Table(title=escape(f"model {info['id']}"), show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    parent = info["parent_model"]
    rows = [
        ("type", info["model_type"]), ("method", info["method"]), ("parameters", f"{info['n_params']:,}"),
        ("file", f"{info['path']} ({info['size_bytes']:,} bytes{'' if info['file_exists'] else ', missing'})"),
        ("teacher", info["teacher"] or "—"),
        ("parent", f"{parent['id']} ({parent['model_type']}, {parent['method']})" if parent else (info["parent"] or "—")),
        ("children", ", ".join(f"{c['id'][:12]} ({c['method']})" for c in info["children"]) or "—"),
        ("dataset", f"{info['dataset_info']['path']} (policy {info['dataset_info']['policy']}, "
                    f"{info['dataset_info']['episodes']} episodes)" if info["dataset_info"] else (info["dataset"] or "—")),
        ("run", f"{info['run']['id']} ({info['run']['status']})" if info["run"] else (info["run_id"] or "—")),
    ]
    rows += provenance_rows(info)
    rows += [(f"eval {key}", _value(value)) for key, value in sorted(info["metrics"].items())]
    for field, value in rows:
        table.add_row(escape(field), escape(str(value)))
    Console(highlight=False).print(table)
    return 0


def provenance_rows(info: dict[str, Any]) -> list[tuple[str, str]]:
    """The synthetic depth of the training data and the collapse guard's verdict on it, when recorded."""
    dataset, guard = info.get("dataset_info") or {}, info.get("collapse_guard")
    depth = info.get("data_depth", dataset.get("synthetic_depth"))
    rows = [("data depth", str(depth))] if depth is not None else []
    if dataset.get("synthetic_depth_rows"):
        rows.append(("dataset rows by depth", ", ".join(f"depth {d}: {n:,}" for d, n in
                                                          sorted(dataset["synthetic_depth_rows"].items(), key=lambda item: int(item[0])))))
    return rows + ([("collapse guard", f"{guard['status']}: {guard['message']}")] if guard else [])


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)
