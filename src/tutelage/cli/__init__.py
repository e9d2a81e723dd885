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


def commands() -> dict[str, tuple[str, str]]:
    """Command name -> (module, help), read from each module's source without importing it (so that
    ``tutelage --help`` imports no command and none of the libraries they use)."""
    import ast
    import re

    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        source = (pkgutil.get_data(__name__, f"{info.name}.py") or b"").decode("utf-8")
        constants = {}
        for key, value in re.findall(r"^(NAME|HELP) = (\"[^\"\n]*\"|'[^'\n]*')$", source, flags=re.M):
            constants[key] = ast.literal_eval(value)
        if not {"NAME", "HELP"} <= constants.keys():  # not literals: import the module to know
            module = importlib.import_module(f"{__name__}.{info.name}")
            constants = {"NAME": module.NAME, "HELP": module.HELP}
        found[constants["NAME"]] = (info.name, constants["HELP"])
    return found


def chosen_command(argv: Sequence[str], names: dict[str, tuple[str, str]]) -> str | None:
    """The command named in ``argv`` (the first word that is no option nor an option's value)."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word == "--plugin":
            skip = True
        elif not word.startswith("-"):
            return word if word in names else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; only the command named in ``argv`` (every command when None) gets its arguments,
    which imports its module."""
    parser = argparse.ArgumentParser(prog="tutelage", description="AI trains AI in simulation.")
    parser.add_argument("--version", action="version", version=f"tutelage {tutelage.__version__}")
    parser.add_argument(
        "--plugin", action="append", default=[], metavar="MODULE",
        help="load a local plugin (dotted module name or path to a .py file); repeatable",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    found = commands()
    chosen = chosen_command(argv, found) if argv is not None else None
    for name, (module_name, help_text) in found.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if argv is None or name == chosen:
            module = importlib.import_module(f"{__name__}.{module_name}")
            module.add_arguments(command)
            command.set_defaults(handler=module.run)
    return parser


def host_of(args: argparse.Namespace) -> Any:
    """The plugin host of this command: the installed plugins plus the ``--plugin`` modules."""
    from tutelage.plugins import get_host

    return get_host(args.plugin)


def add_policy_arguments(parser: argparse.ArgumentParser, world_help: str = "a tutelage world, e.g. tutelage/Driving-v0",
                         policy_help: str = "random, expert (the world's teacher), a teacher name, or a .safetensors model"
                         ) -> None:
    """The positional WORLD, ``--policy`` and repeatable ``--policy-option`` (read with :func:`policy_options`)."""
    parser.add_argument("world", metavar="WORLD", help=world_help)
    parser.add_argument("--policy", required=True, help=policy_help)
    parser.add_argument("--policy-option", action="append", default=[], metavar="KEY=VALUE",
                        help="an option of the teacher (value in TOML syntax, e.g. sigma=0.1); repeatable")


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
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        if getattr(args, "plugin", None):
            host_of(args)  # the named plugins load first: their worlds and layer kinds serve every command
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
