"""The ``tutelage`` command line.

Each subcommand is a module in this package defining ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; modules are discovered, so
adding a command means adding a file. A :class:`~tutelage.errors.UserError`
becomes one line on stderr and exit code 2, printed as plain text (paths and
keys may hold ``[...]``, which rich would otherwise read as markup).
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import tomllib
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.text import Text

import tutelage
from tutelage.errors import UserError

err_console = Console(stderr=True, highlight=False, markup=False)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tutelage", description="AI trains AI in simulation.")
    parser.add_argument("--version", action="version", version=f"tutelage {tutelage.__version__}")
    parser.add_argument(
        "--plugin", action="append", default=[], metavar="MODULE",
        help="load a local plugin (dotted module name or path to a .py file); repeatable",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        command = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(handler=module.run)
    return parser


def host_of(args: argparse.Namespace) -> Any:
    """The plugin host of this command: the installed plugins plus the ``--plugin`` modules."""
    from tutelage.plugins import get_host

    return get_host(args.plugin)


def policy_options(pairs: Sequence[str], flag: str = "--policy-option") -> dict[str, Any]:
    """``["sigma=0.1", "mode='calm'"]`` → ``{"sigma": 0.1, "mode": "calm"}``; a value that is no TOML
    literal is taken as a string."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip().isidentifier():
            raise UserError(f"{flag}: expected KEY=VALUE with KEY a name, got {pair!r}")
        try:
            options[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            options[key.strip()] = value
    return options


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except UserError as exc:
        message = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())  # always one line
        err_console.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
