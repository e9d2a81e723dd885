"""``tutelage run [SPEC]``: run a simulation study from a run spec and write its report."""
from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from tutelage.errors import UserError
from tutelage.plugins import get_host
from tutelage.runs.report import REPORT_FILE
from tutelage.runs.runner import RunInterrupted, resume_run, run_spec
from tutelage.runs.spec import load_spec
from tutelage.runs.summary import columns, policy_rows, separation_notes

NAME = "run"
HELP = "run a simulation study from a run spec (default: the packaged 'driving' spec)"
DEFAULT_SPEC = "driving"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", nargs="?", help=f"a spec file or a packaged spec name (default: {DEFAULT_SPEC}; see `tutelage sims`)")
    parser.add_argument("--quick", action="store_true", help="apply the spec's [quick] overrides (a short run)")
    parser.add_argument("--out", default="runs", metavar="DIR", help="folder that holds run folders (default: runs)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last finished stage")
    parser.add_argument("--registry", metavar="PATH", help="lineage registry (default: $TUTELAGE_REGISTRY or <out>/lineage.db)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--json", action="store_true", help="print the run's summary as JSON")


def run(args: argparse.Namespace) -> int:
    host = get_host(args.plugin)
    try:
        if args.resume:
            if args.spec or args.quick:
                raise UserError("--resume continues a run with its recorded spec; do not also give SPEC or --quick")
            summary = resume_run(args.resume, host, registry=args.registry, quiet=args.quiet)
        else:
            spec = load_spec(args.spec or DEFAULT_SPEC, host, quick=args.quick)  # validated before anything is written
            summary = run_spec(spec, host, out=args.out, registry=args.registry, quiet=args.quiet)
    except RunInterrupted as stop:
        Console(stderr=True).print(f"interrupted; continue with: tutelage run --resume {stop.run_dir}", highlight=False,
                                   soft_wrap=True, markup=False)
        return 130
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        print_summary(summary, Console(highlight=False), brief=args.quiet)
    return 0


def print_summary(summary: dict, console: Console, *, brief: bool = False) -> None:
    if not brief and summary["policies"]:
        print_table(summary, console, title=f"{summary['name']}: teacher against students")
    console.print(f"report: {summary['run_dir']}/{REPORT_FILE}", soft_wrap=True, markup=False)


#: columns left out, in this order, while the table is wider than the terminal
DROPPABLE = ("µs/act", "params", "role", "eps", "return")


def print_table(summary: dict, console: Console, *, title: str) -> None:
    """The policies' table (fitted to the terminal by leaving out the least needed columns), then a note
    for each pair of policies the sample is too small to tell apart."""
    headings = ["policy", "role", *(short for _, _, short, _ in columns(summary))]
    rows = [[label, role, *cells] for label, role, cells in policy_rows(summary)]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headings)]
    shown = list(range(len(headings)))
    for name in DROPPABLE:
        if sum(widths[i] + 3 for i in shown) + 1 <= console.width:
            break
        if name in headings:
            shown.remove(headings.index(name))
    console.print(_table(title, headings, rows, shown))
    for note in separation_notes(summary):
        console.print(f"note: {note}", markup=False)


def _table(title: str, headings: list[str], rows: list[list[str]], shown: list[int]) -> Table:
    table = Table(title=title)
    for i in shown:
        table.add_column(headings[i], justify="left" if headings[i] in ("policy", "role") else "right",
                         no_wrap=headings[i] != "policy", min_width=min(len(headings[i]), 12))
    for row in rows:
        table.add_row(*(row[i] for i in shown))
    return table
