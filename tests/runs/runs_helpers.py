"""Helpers for the runner's tests: the local stage plugin, the tiny spec, the CLI in and out of process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tutelage.cli import main

HERE = Path(__file__).resolve().parent
PLUGIN = str(HERE / "stage_plugin.py")
TINY = HERE / "tiny.toml"


def cli(*args: str) -> int:
    """``tutelage --plugin stage_plugin.py ARGS`` in this process."""
    return main(["--plugin", PLUGIN, *args])


def cli_process(*args: str, env: dict | None = None) -> subprocess.Popen:
    """The same command in a child process (for kills and concurrency)."""
    return subprocess.Popen([sys.executable, "-m", "tutelage.cli", "--plugin", PLUGIN, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def only_run_dir(out: Path) -> Path:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


def summary_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())
