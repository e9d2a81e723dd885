"""`tutelage generate`: same data whatever the workers, resume after a kill, clear errors."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tutelage.data import Dataset, read_info
from tutelage.errors import DataError, ModelFileError, SpecError, UnknownNameError
from tutelage.rollouts.generate import generate
from tutelage.rollouts.plan import episode_seeds

WORLD = "Pendulum-v1"
SMALL = dict(episodes=8, episodes_per_shard=3, max_steps=40, seed=7)


def data_files(root: Path) -> list[Path]:
    return sorted((root / "data").rglob("*.parquet")) + sorted((root / "meta" / "episodes").rglob("*.parquet"))


def assert_same_dataset(a: Path, b: Path) -> None:
    """Same files, and every data column holds the same bytes."""
    files_a, files_b = data_files(a), data_files(b)
    assert [p.relative_to(a) for p in files_a] == [p.relative_to(b) for p in files_b]
    for file_a, file_b in zip(files_a, files_b):
        assert pq.read_table(file_a).equals(pq.read_table(file_b)), file_a.relative_to(a)
        assert file_a.read_bytes() == file_b.read_bytes(), file_a.relative_to(a)


@pytest.fixture(scope="module")
def serial(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("serial") / "ds"
    generate(WORLD, "random", out=out, **SMALL)
    return out


def test_episode_seeds_depend_only_on_run_seed_and_index():
    assert episode_seeds(3, 5) == episode_seeds(3, 5)
    assert len({episode_seeds(3, i) for i in range(100)}) == 100
    assert episode_seeds(3, 5) != episode_seeds(4, 5)


def test_two_processes_write_the_same_data_as_one(serial, tmp_path):
    result = generate(WORLD, "random", out=tmp_path / "ds", workers=2, **SMALL)
    assert result.shards == 3 and result.episodes == 8
    assert_same_dataset(serial, tmp_path / "ds")


def test_info_records_provenance(serial):
    info = read_info(serial)
    assert info["complete"] and info["world"] == WORLD and len(info["id"]) == 16
    assert info["total_episodes"] == 8 and info["total_shards"] == 3
    assert info["generation"]["seed"] == 7 and info["policy"]["kind"] == "random"
    assert info["synthetic_share"] == 0.0
    assert info["fps"] > 0 and "pybullet" in info["versions"]  # its version, or "" where it is not installed
    assert info["features"]["observation.state"]["shape"] == [3]
    assert info["total_frames"] == len(Dataset(serial)) == 8 * 40


def test_rerun_with_same_arguments_skips_finished_shards(serial):
    before = {p: p.stat().st_mtime_ns for p in data_files(serial)}
    result = generate(WORLD, "random", out=serial, workers=2, **SMALL)
    assert result.resumed_shards == 3
    assert {p: p.stat().st_mtime_ns for p in data_files(serial)} == before


def test_rerun_with_other_arguments_is_refused(serial):
    with pytest.raises(DataError, match=r"info.json.*seed: dataset has 7, asked for 8"):
        generate(WORLD, "random", out=serial, **{**SMALL, "seed": 8})
    completed = subprocess.run(
        [sys.executable, "-m", "tutelage.cli", "generate", WORLD, "--policy", "random", "--episodes", "7",
         "--episodes-per-shard", "3", "--max-steps", "40", "--seed", "7", "--out", str(serial), "--quiet"],
        capture_output=True, text=True,
    )
    assert completed.returncode == 2
    assert "episodes: dataset has 8, asked for 7" in completed.stderr  # fewer: refused (more grows it)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"policy": "expret"}, UnknownNameError, "did you mean 'expert'"),
    ({"world": "Pendulm-v1"}, UnknownNameError, "did you mean 'Pendulum-v1'"),
    ({"policy": "missing.safetensors"}, ModelFileError, "model file not found"),
    ({"workers": 0}, SpecError, "--workers"),
    ({"backend": "threads"}, SpecError, "--backend"),
    ({"edge_case_fraction": 1.5}, SpecError, "--edge-case-fraction"),
    ({"edge_case_fraction": 0.5}, SpecError, "declares no edge cases"),
])
def test_bad_arguments_are_clear_errors(tmp_path, kwargs, error, message):
    args = {"world": WORLD, "policy": "random", "episodes": 2, "out": tmp_path / "ds", "max_steps": 5, **kwargs}
    with pytest.raises(error, match=message):
        generate(**args)
    assert not (tmp_path / "ds" / "data").exists()


def test_refuses_a_directory_that_is_not_a_dataset(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="not empty and holds no dataset"):
        generate(WORLD, "random", 2, tmp_path, max_steps=5)


def test_killed_generation_resumes_to_the_same_dataset(serial, tmp_path):
    """SIGKILL the generator (and its workers) mid-run, check nothing is corrupt, resume, compare."""
    args = ["--episodes", "120", "--episodes-per-shard", "2", "--max-steps", "200", "--seed", "3", "--quiet"]
    reference = tmp_path / "reference"
    generate(WORLD, "random", 120, reference, episodes_per_shard=2, max_steps=200, seed=3)
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "tutelage.cli", "generate", WORLD, "--policy", "random", "--out", str(out),
               "--workers", "2", *args]
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(list((out / "data").rglob("file-*.parquet"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not read_info(out)["complete"], "generation finished before the kill"
    for path in data_files(out):  # whatever is there is whole
        pq.read_table(path)
    finished = len(list((out / "data").rglob("file-*.parquet")))
    assert 3 <= finished < 60
    resumed = subprocess.run(command, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_dataset(reference, out)
    assert not list(out.rglob(".tmp-*")), "stray temporary files left behind"


def test_model_policy_is_synthetic_with_lineage(serial, tmp_path):
    import numpy as np

    from tutelage import nn

    model = nn.Sequential([nn.Dense(8), nn.Tanh(), nn.Dense(1)], input_shape=(3,), seed=4)
    path = tmp_path / "student.safetensors"
    ident = nn.save(model, path, lineage={"parent": "0123456789abcdef", "method": "distillation"})
    result = generate(WORLD, str(path), out=tmp_path / "ds", workers=2, **SMALL)
    info = read_info(tmp_path / "ds")
    assert result.synthetic_share == info["synthetic_share"] == 1.0
    assert info["policy"]["model_id"] == ident and info["policy"]["lineage"]["parent"] == "0123456789abcdef"
    assert info["generation"]["policy"]["sha256"] and "path" not in info["generation"]["policy"]
    frames = Dataset(tmp_path / "ds").to_arrays(["observation.state", "action"])
    expected = np.clip([model(obs) for obs in frames["observation.state"]], -2.0, 2.0)
    assert np.allclose(frames["action"], expected, atol=1e-6)
    bigger = nn.Sequential([nn.Dense(2)], input_shape=(3,), seed=0)
    nn.save(bigger, tmp_path / "wrong.safetensors")
    with pytest.raises(SpecError, match="wrong.safetensors: outputs 2 values"):
        generate(WORLD, str(tmp_path / "wrong.safetensors"), 1, tmp_path / "wrong", max_steps=3)
    assert not (tmp_path / "wrong").exists()


def test_cli_reports_what_it_wrote(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "tutelage.cli", "generate", WORLD, "--policy", "random", "--episodes", "3",
         "--max-steps", "5", "--out", str(tmp_path / "ds")], capture_output=True, text=True,
    )
    assert completed.returncode == 0, completed.stderr
    assert "wrote 3 episodes, 15 frames in 1 shard(s)" in " ".join(completed.stdout.split())
