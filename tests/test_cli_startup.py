"""``tutelage --help`` imports no command module and no heavy library; a command still gets its arguments."""
from __future__ import annotations

import subprocess
import sys

from tutelage.cli import build_parser, chosen_command, commands

PROBE = """
import sys
from tutelage.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
heavy = ["numpy", "scipy", "gymnasium", "pybullet", "matplotlib", "pyarrow", "tutelage.plugins"]
print(sorted(m for m in sys.modules if m in heavy or m.startswith("tutelage.cli.")))
"""


def test_help_imports_nothing_heavy():
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    help_text, _, imported = result.stdout.rstrip().rpartition("\n")
    assert imported == "[]"
    assert "write a new plugin package" in help_text and "list the packaged run specs" in help_text


def test_every_command_is_listed_with_its_help():
    found = commands()
    assert {"generate", "plugins", "plugin", "sims", "run", "train"} <= set(found)
    assert found["plugins"][0] == "plugins" and "contract checks" in found["plugins"][1]


def test_only_the_chosen_command_is_built():
    assert chosen_command(["--plugin", "sims", "plugins", "--check"], commands()) == "plugins"
    assert chosen_command(["--version"], commands()) is None
    args = build_parser(["sims", "--show", "reach"]).parse_args(["sims", "--show", "reach"])
    assert args.show == "reach" and callable(args.handler)


def test_python_dash_m_runs_the_same_command_line():
    result = subprocess.run([sys.executable, "-m", "tutelage", "sims", "--bad-flag"], capture_output=True, text=True)
    assert result.returncode == 2 and "--bad-flag" in result.stderr
    listed = subprocess.run([sys.executable, "-m", "tutelage", "sims"], capture_output=True, text=True)
    assert listed.returncode == 0 and "vision" in listed.stdout
