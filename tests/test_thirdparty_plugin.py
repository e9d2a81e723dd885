"""A third-party plugin in one file, named with --plugin: its teacher (with options) and its lifecycle hook
work in every command and in every worker process and Ray task, exactly like a built-in."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tutelage.data import Dataset

pytest.importorskip("pybullet")
WORLD = "tutelage/Reach-v0"
PLUGIN = textwrap.dedent('''
    """A noisy Reach expert: the built-in expert plus Gaussian noise seeded by each episode."""
    import os

    import numpy as np

    from tutelage import hookimpl


    class NoisyReach:
        name = "noisy-reach"
        privileged = True

        def __init__(self, sigma=0.0):
            from tutelage_plugins.teachers.experts import ReachExpert

            self.sigma, self.expert, self.rng = float(sigma), ReachExpert(), np.random.default_rng(0)

        def reset(self, seed=None):
            self.rng = np.random.default_rng(seed)
            with open(os.environ["RESET_LOG"], "a") as log:
                log.write(f"{os.getpid()}\\n")

        def act(self, observation, info):
            action = np.asarray(self.expert.act(observation, info), dtype=np.float32)
            return action + self.rng.normal(0.0, self.sigma, action.shape).astype(np.float32)


    @hookimpl
    def tutelage_teachers():
        return {"noisy-reach": NoisyReach}


    @hookimpl
    def tutelage_episode_end(world, episode_index, info):
        with open(os.environ["EPISODE_LOG"], "a") as log:
            log.write(f"{os.getpid()} {episode_index}\\n")
''')


@pytest.fixture()
def plugin(tmp_path: Path) -> Path:
    path = tmp_path / "noisy_plugin.py"
    path.write_text(PLUGIN)
    return path


def cli(plugin: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "EPISODE_LOG": str(cwd / "episodes.log"), "RESET_LOG": str(cwd / "resets.log")}
    return subprocess.run([sys.executable, "-m", "tutelage.cli", "--plugin", str(plugin), *args], cwd=cwd, env=env,
                          capture_output=True, text=True)


def generate(plugin: Path, cwd: Path, out: str, *extra: str) -> Dataset:
    result = cli(plugin, "generate", WORLD, "--policy", "noisy-reach", "--policy-option", "sigma=0.3", "--episodes", "4",
                 "--episodes-per-shard", "1", "--max-steps", "25", "--out", out, "--quiet", *extra, cwd=cwd)
    assert result.returncode == 0, result.stderr[-2000:]
    return Dataset(cwd / out)


def episode_log(cwd: Path) -> list[tuple[int, int]]:
    lines = (cwd / "episodes.log").read_text().split("\n")
    (cwd / "episodes.log").unlink()
    return [tuple(map(int, line.split())) for line in lines if line]


def test_a_plugin_teacher_with_options_generates_the_same_data_in_worker_processes(plugin, tmp_path):
    serial = generate(plugin, tmp_path, "serial")
    assert serial.info["policy"]["options"] == {"sigma": 0.3}
    assert sorted(index for _, index in episode_log(tmp_path)) == [0, 1, 2, 3]
    parallel = generate(plugin, tmp_path, "parallel", "--workers", "2")
    pids = {pid for pid, _ in episode_log(tmp_path)}
    assert len(pids) == 2, "episode hooks fire in both worker processes"
    for column in ("action", "observation.state"):
        np.testing.assert_array_equal(serial.to_arrays([column])[column], parallel.to_arrays([column])[column])
    actions = serial.to_arrays(["action", "episode_index"])
    first = [actions["action"][actions["episode_index"] == e][0] for e in range(2)]
    assert not np.allclose(first[0], first[1]), "each episode reseeds the teacher's noise"


def test_a_plugin_teacher_trains_students_and_is_searched(plugin, tmp_path):
    generate(plugin, tmp_path, "demos")
    episode_log(tmp_path)
    bc = cli(plugin, "distill", "--method", "bc", "--data", "demos", "--epochs", "3", "--out", "bc.safetensors",
             "--quiet", cwd=tmp_path)
    assert bc.returncode == 0, bc.stderr[-2000:]
    dagger = cli(plugin, "distill", "--method", "dagger", "--world", WORLD, "--teacher", "noisy-reach",
                 "--teacher-option", "sigma=0.1", "--rounds", "2", "--episodes-per-round", "2", "--max-steps", "20",
                 "--epochs", "3", "--out", "dagger.safetensors", "--quiet", cwd=tmp_path)
    assert dagger.returncode == 0, dagger.stderr[-2000:]
    card = json.loads(cli(plugin, "show", "dagger.safetensors", "--json", cwd=tmp_path).stdout)
    assert card["method"] == "dagger" and card["teacher"] == "noisy-reach"
    search = cli(plugin, "failures", WORLD, "--policy", "noisy-reach", "--policy-option", "sigma=2.0", "--budget", "4",
                 "--population", "2", "--max-steps", "15", "--workers", "2", "--out", "failures.json", cwd=tmp_path)
    assert search.returncode == 0, search.stderr[-2000:]
    catalogue = json.loads((tmp_path / "failures.json").read_text())
    assert catalogue["policy"]["options"] == {"sigma": 2.0} and catalogue["entries"]
    bad = cli(plugin, "generate", WORLD, "--policy", "noisy-reach", "--policy-option", "sigma=1", "--policy-option",
              "colour=3", "--episodes", "1", "--out", "bad", cwd=tmp_path)
    assert bad.returncode == 2 and "teacher 'noisy-reach': bad options" in bad.stderr
    assert not (tmp_path / "bad").exists()


@pytest.mark.ray
def test_a_plugin_teacher_generates_the_same_data_as_ray_tasks(plugin, tmp_path):
    pytest.importorskip("ray")
    serial = generate(plugin, tmp_path, "serial")
    ray_made = generate(plugin, tmp_path, "ray", "--backend", "ray", "--workers", "2")
    np.testing.assert_array_equal(serial.to_arrays(["action"])["action"], ray_made.to_arrays(["action"])["action"])


def dagger_theta(plugin: Path, cwd: Path, out: str, *extra: str) -> np.ndarray:
    from tutelage import nn

    result = cli(plugin, "distill", "--method", "dagger", "--world", WORLD, "--teacher", "noisy-reach",
                 "--teacher-option", "sigma=0.1", "--rounds", "2", "--episodes-per-round", "3", "--max-steps", "20",
                 "--epochs", "2", "--out", out, "--quiet", *extra, cwd=cwd)
    assert result.returncode == 0, result.stderr[-2000:]
    return nn.load(cwd / out).theta


def test_a_plugin_teacher_runs_dagger_rounds_in_worker_processes(plugin, tmp_path):
    serial = dagger_theta(plugin, tmp_path, "serial.safetensors")
    parallel = dagger_theta(plugin, tmp_path, "parallel.safetensors", "--workers", "2")
    pids = (tmp_path / "resets.log").read_text().split()
    assert len(pids) == 2 * 6 and len(set(pids[:6])) == 1, "the teacher met each episode, first in one process"
    assert len(set(pids[6:])) >= 2, "then in the worker processes"
    np.testing.assert_array_equal(serial, parallel)


@pytest.mark.ray
def test_a_plugin_teacher_runs_dagger_rounds_as_ray_tasks(plugin, tmp_path):
    pytest.importorskip("ray")
    serial = dagger_theta(plugin, tmp_path, "serial.safetensors")
    np.testing.assert_array_equal(serial, dagger_theta(plugin, tmp_path, "ray.safetensors", "--backend", "ray",
                                                       "--workers", "2"))
