"""``tutelage plugins``: every plugin, what it contributes and any error; ``--check`` runs the contract checks."""
from __future__ import annotations

import argparse
import json
from typing import Any

NAME = "plugins"
HELP = "list plugins and what each contributes (--check: run the contract checks on every contribution)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--check", action="store_true",
                        help="run tutelage.testing's checks on every contribution; exit 1 if any fails")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from tutelage.plugins import get_host

    host = get_host(args.plugin)
    infos = host.plugins()
    checks = check_all(host) if args.check else []
    failed = any(row["status"] == "fail" for row in checks) or (args.check and any(info.error for info in infos))
    if args.json:
        report: dict[str, Any] = {"plugins": [info.as_dict() for info in infos]}
        if args.check:
            report["checks"] = checks
        print(json.dumps(report, indent=2))
        return 1 if failed else 0
    table = Table(title="tutelage plugins")
    for column in ("name", "version", "source", "contributes", "error"):
        table.add_column(column, overflow="fold")
    for info in infos:
        contributed = "\n".join(
            f"{kind.replace('_', ' ')}: {', '.join(names)}" for kind, names in info.contributions.items() if names
        )
        table.add_row(info.name, info.version, info.source, contributed, f"[red]{info.error}[/]" if info.error else "")
    console = Console()
    console.print(table)
    if args.check:
        console.print(check_table(checks))
    return 1 if failed else 0


def check_all(host: Any) -> list[dict[str, Any]]:
    """One row per check of every contribution: plugin, kind, name, check, status (pass, fail or
    skipped: a factory that needs options) and the rule broken."""
    from tutelage.testing import ContractViolation, NeedsOptions, checks_for, host_subjects

    rows = []
    for plugin, subject in host_subjects(host):
        for check in checks_for(subject):
            row = {"plugin": plugin, "kind": subject.kind, "name": subject.name, "check": check.__name__,
                   "status": "pass", "rule": "", "detail": ""}
            try:
                check(subject)
            except ContractViolation as exc:
                row.update(status="skipped" if isinstance(exc, NeedsOptions) else "fail", rule=exc.rule, detail=exc.detail)
            rows.append(row)
    return rows


def check_table(rows: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    table = Table(title="contract checks (tutelage.testing)")
    for column in ("plugin", "kind", "name", "check", "result", "rule broken"):
        table.add_column(column, overflow="fold")
    style = {"pass": "[green]pass[/]", "fail": "[bold red]fail[/]", "skipped": "[yellow]skipped[/]"}
    for row in rows:
        broken = f"{row['rule']}: {row['detail']}" if row["rule"] else ""
        table.add_row(row["plugin"], row["kind"].replace("_", " "), row["name"], row["check"].removeprefix("check_"), style[row["status"]], broken)
    return table
