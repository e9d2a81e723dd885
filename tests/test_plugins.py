"""The plugin manager: built-ins through entry points, broken plugins isolated, helpful lookups."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tutelage.errors import UnknownNameError
from tutelage.plugins import PluginHost, get_host

GOOD_PLUGIN = """
from tutelage import hookimpl

class Echo:
    name = "echo"
    privileged = False
    def act(self, observation, info):
        return observation

@hookimpl
def tutelage_teachers():
    return {"echo": Echo}
"""


def run_cli(*args: str, env_path: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if env_path is not None:
        env["PYTHONPATH"] = f"{env_path}{os.pathsep}{env.get('PYTHONPATH', '')}"
    return subprocess.run([sys.executable, "-m", "tutelage.cli", *args], capture_output=True, text=True, env=env)


def make_distribution(root: Path, dist: str, module: str, source: str) -> None:
    """Install a real (if tiny) distribution on a path: a module plus dist-info with an entry point."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[tutelage]\n{module} = {module}\n")


def test_builtins_register_through_entry_points():
    infos = {info.name: info for info in get_host().plugins()}
    assert infos["models"].source == "builtin"
    assert infos["models"].distribution == "tutelage"
    assert all(info.error is None for info in infos.values())


def test_local_plugin_contributes(tmp_path):
    path = tmp_path / "echo_plugin.py"
    path.write_text(GOOD_PLUGIN)
    host = PluginHost([str(path)])
    assert host.registry("teachers")["echo"]().act(3, {}) == 3
    assert host.infos["echo_plugin"].source == "local"


def test_unknown_name_suggests_closest(tmp_path):
    path = tmp_path / "echo_plugin.py"
    path.write_text(GOOD_PLUGIN)
    host = PluginHost([str(path)])
    with pytest.raises(UnknownNameError) as info:
        host.registry("teachers").get("ecko")
    assert "did you mean 'echo'" in str(info.value)
    assert "available:" in str(info.value)


def test_duplicate_name_is_reported_and_first_kept(tmp_path):
    for stem in ("first", "second"):
        (tmp_path / f"{stem}.py").write_text(GOOD_PLUGIN)
    host = PluginHost([str(tmp_path / "first.py"), str(tmp_path / "second.py")])
    assert host.registry("teachers").owner["echo"] == "first"
    assert "already provided by plugin 'first'" in host.infos["second"].error


def test_plugin_failing_on_import_is_listed_and_builtins_work(tmp_path):
    make_distribution(tmp_path, "broken-plugin", "broken_plugin", "raise RuntimeError('boom at import')\n")
    result = run_cli("plugins", "--json", env_path=tmp_path)
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)["plugins"]}
    broken = plugins["broken_plugin"]
    assert broken["source"] == "entrypoint"
    assert "boom at import" in broken["error"] and "broken-plugin" in broken["error"]
    assert plugins["models"]["error"] is None
    assert set(plugins["models"]) >= {"name", "version", "source", "model_types", "teachers", "critics", "judges", "worlds", "error"}


def test_hook_that_raises_is_isolated(tmp_path):
    path = tmp_path / "raising.py"
    path.write_text("from tutelage import hookimpl\n@hookimpl\ndef tutelage_judges():\n    raise ValueError('bad judge')\n")
    host = PluginHost([str(path)])
    assert "bad judge" in host.infos["raising"].error
    assert host.infos["models"].error is None


def test_plugins_table_renders(tmp_path):
    result = run_cli("plugins")
    assert result.returncode == 0
    assert "models" in result.stdout and "builtin" in result.stdout


def test_version():
    result = run_cli("--version")
    assert result.stdout.startswith("tutelage ")
