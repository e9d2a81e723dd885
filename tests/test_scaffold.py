"""``tutelage plugin new``: the package it writes loads through --plugin, installs, and its own tests pass."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tutelage.cli import main

KINDS = {"model_types": ["kit-demo-normed"], "teachers": ["kit-demo-ball-expert", "kit-demo-noisy-reach"],
         "critics": ["kit-demo-length"], "judges": ["kit-demo-shorter"], "worlds": ["kit-demo/Ball-v0"],
         "stage_types": ["kit-demo-random"]}


def cli(*args: str, cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = f"{pythonpath}{os.pathsep}{env.get('PYTHONPATH', '')}"
    return subprocess.run([sys.executable, "-m", "tutelage.cli", *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_rendered_plugin_loads_through_plugin_option(tmp_path):
    assert main(["plugin", "new", "kit-demo", "--out", str(tmp_path)]) == 0
    package = tmp_path / "kit-demo"
    assert (package / "pyproject.toml").read_text().count('kit_demo = "kit_demo"') == 1
    result = cli("--plugin", "kit_demo", "plugins", "--check", "--json", cwd=tmp_path, pythonpath=package / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    info = next(p for p in report["plugins"] if p["name"] == "kit_demo")
    assert info["error"] is None
    assert {kind: sorted(info[kind]) for kind in KINDS} == KINDS
    checked = {row["name"]: row["status"] for row in report["checks"] if row["plugin"] == "kit_demo"}
    assert set(checked.values()) == {"pass"}, checked


def test_kinds_choose_the_modules(tmp_path):
    assert main(["plugin", "new", "judge_only", "--kinds", "judge", "--out", str(tmp_path)]) == 0
    files = sorted(p.relative_to(tmp_path / "judge_only").as_posix() for p in (tmp_path / "judge_only").rglob("*.py"))
    assert files == ["src/judge_only/__init__.py", "src/judge_only/judges.py", "tests/test_judges.py", "tests/test_plugin.py"]


@pytest.mark.parametrize("args, message", [
    (["Bad Name"], "plugin name 'Bad Name'"),
    (["ok", "--kinds", "judge,oracle"], "unknown kind 'oracle'"),
    (["ok", "--out", "missing-folder"], "no such folder"),
    (["tutelage-plugins"], "a module 'tutelage_plugins' is already importable"),
])
def test_bad_input_is_a_clean_error(tmp_path, args, message):
    result = cli("plugin", "new", *args, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_existing_folder_is_not_overwritten(tmp_path):
    (tmp_path / "taken").mkdir()
    result = cli("plugin", "new", "taken", cwd=tmp_path)
    assert result.returncode == 2 and "already exists" in result.stderr


@pytest.mark.slow
def test_scaffold_installs_and_its_tests_pass_in_a_fresh_venv(tmp_path):
    assert main(["plugin", "new", "kit-demo", "--out", str(tmp_path)]) == 0
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    python = env_dir / "bin" / "python"
    # the new venv also sees this environment's packages (tutelage itself, pytest), as a user's venv would
    site_dir = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True).stdout.strip()
    parent = sysconfig.get_paths()["purelib"]
    Path(site_dir, "_parent_env.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    install = subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                              str(tmp_path / "kit-demo")], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    listed = subprocess.run([python, "-m", "tutelage.cli", "plugins", "--json"], capture_output=True, text=True, env=env)
    assert listed.returncode == 0, listed.stderr
    info = next(p for p in json.loads(listed.stdout)["plugins"] if p["name"] == "kit_demo")
    assert info["source"] == "entrypoint" and info["distribution"] == "kit-demo" and info["error"] is None
    tests = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=tmp_path / "kit-demo",
                           capture_output=True, text=True, env=env)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout
    generated = subprocess.run([python, "-m", "tutelage.cli", "generate", "kit-demo/Ball-v0", "--policy", "expert",
                                "--episodes", "4", "--workers", "2", "--out", "data", "--quiet"],
                               cwd=tmp_path, capture_output=True, text=True, env=env)
    assert generated.returncode == 0, generated.stderr[-2000:]
    assert json.loads((tmp_path / "data" / "meta" / "info.json").read_text())["complete"]


SPEC = """
name = "ball"
seed = 0
world = "kit-demo/Ball-v0"

[[stages]]
name = "demonstrations"
type = "generate"
policy = "expert"
episodes = 12
workers = 2

[[stages]]
name = "student"
type = "distill"
method = "dagger"
teacher = "expert"
student = { model_type = "kit-demo-normed", options = { hidden = [32], squash = true } }
rounds = 2
episodes_per_round = 4
epochs = 20

[[stages]]
name = "baseline"
type = "kit-demo-random"
episodes = 3

[[stages]]
name = "evaluation"
type = "evaluate"
policies = ["expert", "student"]
episodes = 8
workers = 2
gif = false
"""


@pytest.mark.slow
def test_scaffold_plugin_runs_a_study_through_plugin_option(tmp_path):
    """Its world, expert, model type and stage type in one run spec, with 2 worker processes."""
    assert main(["plugin", "new", "kit-demo", "--out", str(tmp_path)]) == 0
    (tmp_path / "ball.toml").write_text(SPEC)
    result = cli("--plugin", "kit_demo", "run", "ball.toml", "--out", "studies", "--json", cwd=tmp_path,
                 pythonpath=tmp_path / "kit-demo" / "src")
    assert result.returncode == 0, result.stderr[-3000:]
    (summary_path,) = (tmp_path / "studies").glob("ball-*/summary.json")
    summary = json.loads(summary_path.read_text())
    expert = summary["policies"]["expert"]
    assert [m["name"] for m in expert["metrics"]] == ["final_distance", "min_distance", "max_speed"]
    assert expert["success_rate"] > 0.8 and expert["final_distance"] < 0.1
