"""The camera student: what it sees (frame + perceived speed, never the truth), uint8 frames in datasets, and a
CNN taught by DAgger end to end on a few short episodes of the real driving world."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import tutelage.worlds  # noqa: F401
from tutelage import nn
from tutelage.methods.bc import behavior_cloning
from tutelage.methods.dagger import DAggerBuffer, dagger
from tutelage.methods.evaluate import evaluate
from tutelage.plugins import registry
from tutelage.rollouts.generate import generate
from tutelage.rollouts.policy import observation_vector
from tutelage.rollouts.rollout import make_env
from tutelage.sim.spaces import io_sizes

WORLD = "tutelage/DrivingCamera-v0"
PRIVILEGED = ("speed", "lane_offset", "heading_error", "ego_s", "ego_d", "ego_yaw", "progress", "max_curvature_ahead")


def expert():
    return registry("teachers").get(registry("worlds").get(WORLD).expert)()


def cnn(seed: int = 0):
    inputs, outputs = io_sizes(WORLD)
    return registry("model_types").get("cnn").build((inputs,), outputs, seed=seed, image=[1, 24, 32], scale=1 / 255,
                                                   channels=[2, 4], hidden=8, output_activation="tanh")


def test_the_student_sees_a_camera_frame_and_the_perceived_speed_never_the_truth():
    teacher = expert()
    with contextlib.closing(make_env(WORLD, max_steps=60)) as env:
        assert sorted(env.observation_space.spaces) == ["frame", "speed"]
        observation, info = env.reset(seed=3)
        frames, speeds, truths = [], [], []
        for _ in range(60):
            assert observation["frame"].dtype == np.uint8 and observation["frame"].shape == (1, 24, 32)
            flat = observation_vector(observation)
            assert flat.shape == (769,)
            for key in PRIVILEGED:  # no privileged quantity reaches the student exactly
                assert not np.any(flat == np.float32(info[key])) or info[key] == 0.0, key
            for value in np.concatenate([np.ravel(info["curvature"]), np.ravel(info["actors"]["position"])]):
                assert not np.any(flat == np.float32(value)) or value == 0.0
            frames.append(observation["frame"])
            speeds.append(float(observation["speed"][0]))
            truths.append(info["speed"])
            observation, _, terminated, truncated, info = env.step(teacher.act(observation, info))
            if terminated or truncated:
                break
    speeds, truths = np.array(speeds), np.array(truths)
    assert np.all(speeds != truths) and np.abs(speeds - truths).max() < 0.5  # an estimate: close, never exact
    changes = sum(not np.array_equal(a, b) for a, b in zip(frames, frames[1:]))
    assert 0 < changes <= len(frames) // 5 + 1  # a new frame every 5th step, held in between
    assert np.ptp(frames[-1]) > 20  # a picture, not a blank


def test_the_camera_world_passes_gymnasiums_checks_and_replays_bit_for_bit():
    import gymnasium
    from gymnasium.utils.env_checker import check_env

    env = gymnasium.make(WORLD).unwrapped
    check_env(env)
    runs = []
    for _ in range(2):
        observation, _ = env.reset(seed=5)
        frames = [observation["frame"].tobytes() + observation["speed"].tobytes()]
        for _ in range(12):
            observation, *_ = env.step(np.array([0.1, 0.5], np.float32))
            frames.append(observation["frame"].tobytes() + observation["speed"].tobytes())
        runs.append(b"".join(frames))
    env.close()
    assert runs[0] == runs[1]


def test_frames_are_stored_as_uint8_and_behavior_cloning_reads_them(tmp_path):
    info = generate(WORLD, "expert", 2, tmp_path / "demos", max_steps=30, episodes_per_shard=2)
    meta = json.loads((tmp_path / "demos" / "meta" / "info.json").read_text())
    assert meta["features"]["observation.frame"] == {"dtype": "uint8", "shape": [1, 24, 32], "names": None}
    (shard,) = sorted((tmp_path / "demos" / "data").rglob("*.parquet"))
    column = pq.read_schema(shard).field("observation.frame").type
    assert str(column.value_type) == "uint8" and column.list_size == 768
    assert info.frames == 60
    student, derivation = behavior_cloning(cnn(), tmp_path / "demos", epochs=1, quiet=True)
    assert derivation.metrics["samples"] == 60
    assert np.all(np.abs(student(np.zeros(769, np.float32))) <= 1.0)


def test_dagger_trains_a_cnn_student_that_drives_from_flat_observations(tmp_path):
    buffer = DAggerBuffer()
    student, derivation = dagger(WORLD, expert(), cnn(), rounds=2, episodes_per_round=1, max_steps=40, epochs=2,
                                 batch_size=8, label_every=5, buffer=buffer, quiet=True)
    assert [r["samples"] for r in derivation.history] == [8, 16]  # every 5th of 40 steps, two rounds
    X, Y = buffer.arrays()
    assert X.shape == (16, 769) and X[:, :768].max() <= 255 and Y.shape == (16, 2)
    nn.save(student, tmp_path / "camera.safetensors")
    loaded = nn.load(tmp_path / "camera.safetensors")
    assert loaded.layers[0].type == "planes" and np.allclose(loaded(X[0]), student(X[0]))
    result = evaluate(loaded, WORLD, episodes=1, max_steps=20, edge_case_fraction=0.0, quiet=True)
    assert result.summary["episodes"] == 1


def test_label_every_must_be_positive():
    with pytest.raises(Exception, match="label_every"):
        dagger(WORLD, expert(), cnn(), rounds=1, episodes_per_round=1, label_every=0, quiet=True)


@pytest.mark.slow
def test_the_vision_spec_runs_quick(tmp_path):
    done = subprocess.run([sys.executable, "-m", "tutelage", "run", "vision", "--quick", "--quiet", "--out", str(tmp_path)],
                          capture_output=True, text=True, env={**os.environ, "TUTELAGE_REGISTRY": str(tmp_path / "r.db")},
                          timeout=900)
    assert done.returncode == 0, done.stderr
    (run,) = [p for p in Path(tmp_path).iterdir() if p.name.startswith("vision-")]
    summary = json.loads((run / "summary.json").read_text())
    assert {"expert", "bc-camera", "dagger-camera"} <= set(summary["policies"])
    assert (run / "report.html").is_file()
