"""Every registered world: Gymnasium's checker, determinism, rendering to GIF, closing."""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import gymnasium
import numpy as np
import pybullet
import pytest
from gymnasium.utils.env_checker import check_env
from PIL import Image

import tutelage.worlds  # noqa: F401  (registers the worlds with Gymnasium)
from tutelage.plugins import registry
from tutelage.sim.render import save_gif
from tutelage_plugins.worlds.driving import DrivingEnv

WORLDS = ["tutelage/Driving-v0", "tutelage/DrivingTracked-v0", "tutelage/Reach-v0", "tutelage/Push-v0", "tutelage/PushHand-v0"]


def rollout(env, seed, steps, options=None):
    """Observations and rewards of ``steps`` seeded random actions, as one flat array."""
    env.action_space.seed(seed)
    observation, info = env.reset(seed=seed, options=options)
    trajectory = [observation]
    for _ in range(steps):
        observation, reward, terminated, truncated, info = env.step(env.action_space.sample())
        trajectory += [observation, np.array([reward])]
        assert isinstance(info["is_success"], bool) and isinstance(info["collision"], bool)
        if terminated or truncated:
            break
    return np.concatenate([np.ravel(x) for x in trajectory]), info


def test_all_worlds_registered_without_importing_pybullet():
    code = "import sys, tutelage.worlds, gymnasium; print(sorted(k for k in gymnasium.registry if k.startswith('tutelage/'))); print('pybullet' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert set(WORLDS) <= set(eval(out[0])) and out[1] == "False"
    assert set(WORLDS) <= set(registry("worlds"))


@pytest.mark.parametrize("world", WORLDS)
def test_check_env(world):
    env = gymnasium.make(world, render_mode="rgb_array").unwrapped
    check_env(env, skip_render_check=False)
    env.close()


def test_check_env_driving_with_camera():
    env = gymnasium.make("tutelage/Driving-v0", camera=True, camera_size=(32, 24), lidar_rays=8).unwrapped
    check_env(env)
    env.close()


def test_check_env_driving_unicyclists_on_a_highway_in_a_thunderstorm():
    sampler = DrivingEnv.default_scenarios().with_overrides(
        road_type="highway", unicyclist_count=3, rain=1.0, light=0.1, lightning=2.0, pedestrian_count=0, road_curvature=0.05
    )
    env = gymnasium.make("tutelage/Driving-v0", scenarios=sampler, lidar_rays=8).unwrapped
    check_env(env)
    observation, info = env.reset(seed=2)
    assert info["lanes"] == 3 and list(info["actors"]["kind"]).count("unicyclist") == 3 and info["lane_visibility"] < 0.1
    walked = []
    for _ in range(300):
        observation, _, terminated, truncated, info = env.step(np.array([0.0, 0.4], np.float32))
        walked.append(np.asarray(info["actors"]["vd"])[[kind == "unicyclist" for kind in info["actors"]["kind"]]])
        if terminated or truncated:
            break
    env.close()
    speeds = np.abs(np.array(walked))
    moving = speeds[:, speeds.max(axis=0) > 0]
    assert moving.shape[1] >= 1 and np.all(np.ptp(moving[moving.max(axis=1) > 0], axis=0) > 0.1)  # unsteady


@pytest.mark.parametrize("world", WORLDS)
def test_same_seed_and_actions_give_the_same_trajectory_bit_for_bit(world):
    env = gymnasium.make(world)
    first, _ = rollout(env, 3, 60)
    rollout(env, 4, 30)  # an unrelated episode in between changes nothing
    second, _ = rollout(env, 3, 60)
    env.close()
    other = gymnasium.make(world)
    third, _ = rollout(other, 3, 60)
    fourth, _ = rollout(other, 5, 60)
    other.close()
    assert first.tobytes() == second.tobytes() == third.tobytes()
    assert first.tobytes() != fourth.tobytes()


def test_another_process_replays_the_same_bits():
    code = (
        "import hashlib, gymnasium, tutelage, sys; sys.path.insert(0, sys.argv[1]); from test_worlds import rollout; "
        "env = gymnasium.make('tutelage/Driving-v0'); print(hashlib.sha256(rollout(env, 7, 100)[0].tobytes()).hexdigest())"
    )
    here = str(Path(__file__).parent)
    other = subprocess.run([sys.executable, "-c", code, here], capture_output=True, text=True, check=True).stdout.split()[-1]
    env = gymnasium.make("tutelage/Driving-v0")
    assert hashlib.sha256(rollout(env, 7, 100)[0].tobytes()).hexdigest() == other
    env.close()


@pytest.mark.parametrize("world", WORLDS)
def test_scenario_is_in_info_at_reset(world):
    env = gymnasium.make(world)
    _, info = env.reset(seed=0)
    scenario = info["scenario"]
    assert scenario["world"] == world and scenario["edge_cases"] == []
    edge_case = env.unwrapped.scenarios.edge_case_names[0]
    _, info = env.reset(seed=0, options={"edge_case": edge_case})
    assert info["scenario"]["edge_cases"] == edge_case.split(" + ")
    env.close()


@pytest.mark.parametrize("world", WORLDS)
def test_episode_saved_as_animated_gif(world, tmp_path):
    env = gymnasium.make(world, render_mode="rgb_array", render_size=(64, 48))
    env.reset(seed=0)
    frames = [env.render()]
    for _ in range(4):
        env.step(env.action_space.sample())
        frames.append(env.render())
    env.close()
    assert len({frame.tobytes() for frame in frames}) > 1  # the picture moves
    path = tmp_path / "episode.gif"
    save_gif(frames, path, fps=10)
    with Image.open(path) as gif:
        assert gif.n_frames == 5 and gif.size == (64, 48)
    assert [p.name for p in tmp_path.iterdir()] == ["episode.gif"]


def test_save_gif_rejects_bad_frames(tmp_path):
    with pytest.raises(ValueError, match="frame 0"):
        save_gif([np.zeros((4, 4), np.float32)], tmp_path / "bad.gif")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("world", WORLDS)
def test_close_frees_the_client_and_twice_is_safe(world):
    env = gymnasium.make(world)
    env.reset(seed=0)
    client = env.unwrapped.client
    assert pybullet.isConnected(physicsClientId=client)
    env.close()
    env.close()
    assert not pybullet.isConnected(physicsClientId=client)
