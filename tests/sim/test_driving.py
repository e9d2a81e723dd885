"""tutelage/Driving-v0: Gymnasium conventions, determinism, sensors, episode ends, clients."""
from __future__ import annotations

import subprocess
import sys

import gymnasium
import numpy as np
import pybullet
import pytest
from gymnasium.utils.env_checker import check_env
from PIL import Image

import tutelage  # noqa: F401  (registers the worlds)
from tutelage.sim.render import save_gif
from tutelage_plugins.teachers.experts import DrivingExpert
from tutelage_plugins.worlds.driving import SEGMENTATION_CLASSES

WORLD = "tutelage/Driving-v0"


def rollout(env, seed, steps, options=None):
    rng = np.random.default_rng(seed)
    observation, info = env.reset(seed=seed, options=options)
    trajectory = [observation]
    for _ in range(steps):
        observation, reward, terminated, truncated, info = env.step(rng.uniform(-0.3, 1.0, 2).astype(np.float32))
        trajectory += [observation, np.array([reward])]
        if terminated or truncated:
            break
    return np.concatenate([np.ravel(x) for x in trajectory]), info


def test_registration_does_not_import_pybullet():
    code = "import sys, tutelage, gymnasium; assert 'tutelage/Driving-v0' in gymnasium.registry; print('pybullet' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("kwargs", [{}, {"camera": True, "lidar_rays": 8}])
def test_check_env(kwargs):
    env = gymnasium.make(WORLD, render_mode="rgb_array", **kwargs).unwrapped
    check_env(env, skip_render_check=False)
    env.close()


def test_same_seed_and_actions_give_the_same_trajectory_bit_for_bit():
    env = gymnasium.make(WORLD)
    first, _ = rollout(env, 3, 150)
    rollout(env, 4, 50)  # an unrelated episode in between changes nothing
    second, _ = rollout(env, 3, 150)
    env.close()
    other = gymnasium.make(WORLD)
    third, _ = rollout(other, 3, 150)
    other.close()
    assert first.tobytes() == second.tobytes() == third.tobytes()


def test_scenario_option_replays_exactly_that_scenario():
    env = gymnasium.make(WORLD)
    _, info = env.reset(seed=11, options={"edge_case": "ice + night"})
    scenario = info["scenario"]
    assert scenario["edge_cases"] == ["ice", "night"] and scenario["friction"] <= 0.2
    replay, replay_info = rollout(env, 11, 60, options={"scenario": scenario})
    assert replay_info["friction"] == scenario["friction"]
    _, info = env.reset(seed=11, options={"scenario": scenario})
    assert info["scenario"] == scenario
    env.close()


def test_observation_and_privileged_info():
    env = gymnasium.make(WORLD, lidar_rays=16)
    observation, info = env.reset(seed=5)
    assert observation.shape == (6 + 16,) and observation.dtype == np.float32
    actors = info["actors"]
    n = len(actors["kind"])
    assert n == info["scenario"]["traffic_count"] + info["scenario"]["pedestrian_count"] + info["scenario"]["obstacle_count"]
    assert actors["position"].shape == (n, 3) and actors["velocity"].shape == (n, 3) and info["ttc"].shape == (n,)
    total = 0.0
    for _ in range(50):
        observation, reward, terminated, truncated, info = env.step(np.array([0.0, 0.5], np.float32))
        total += reward
        assert isinstance(info["is_success"], bool) and isinstance(info["collision"], bool)
    assert 0.5 < info["distance_m"] < 3.0
    assert total == pytest.approx(info["progress"], abs=1e-6)  # reward is progress along the road
    assert observation[0] == pytest.approx(info["speed"], rel=1e-5)
    assert np.all(observation[6:] <= 8.0) and np.all(observation[6:] > 0.0)
    env.close()


def test_lidar_sees_an_actor_at_its_true_distance():
    env = gymnasium.make(WORLD, lidar_rays=64).unwrapped
    _, info = env.reset(seed=0, options={"scenario": {**env.scenarios.sample(np.random.default_rng(0)),
                                                      "sensor_noise": 0.0, "sensor_dropout": 0.0}})
    observation, info = env.observe()
    gaps = np.where(info["actors"]["active"], info["distances"], np.inf)
    nearest = int(np.argmin(gaps))
    assert observation[6:].min() <= gaps[nearest] + 2 * info["actors"]["radius"][nearest] + 0.3
    env.close()


def test_leaving_the_road_terminates_with_a_penalty():
    env = gymnasium.make(WORLD)
    env.reset(seed=2)
    for _ in range(400):
        _, reward, terminated, _, info = env.step(np.array([-1.0, 0.6], np.float32))
        if terminated:
            break
    assert terminated and info["off_road"] and not info["is_success"] and reward < -5.0
    env.close()


def test_driving_into_a_slow_car_is_a_collision():
    env = gymnasium.make(WORLD)
    sampler = env.unwrapped.scenarios.with_overrides(traffic_count=6, traffic_speed=0.1, pedestrian_count=0, road_curvature=0.0)
    steer = DrivingExpert()
    for seed in range(10):
        observation, info = env.reset(seed=seed, options={"scenario": sampler.sample(np.random.default_rng(seed))})
        if np.any((info["actors"]["vs"] > 0) & (info["actors"]["d"] < 0)):
            break
    for _ in range(1500):
        action = steer.act(observation, info)
        action[1] = 0.6
        observation, reward, terminated, truncated, info = env.step(action)
        if terminated:
            break
    assert info["collision"] and info["collided_with"] == "car" and reward < -5.0
    env.close()


def test_camera_observation_has_rgb_and_segmentation():
    env = gymnasium.make(WORLD, camera=True, camera_size=(48, 36))
    observation, _ = env.reset(seed=1)
    assert observation["rgb"].shape == (36, 48, 3) and observation["rgb"].dtype == np.uint8
    classes = set(np.unique(observation["segmentation"]).tolist())
    assert SEGMENTATION_CLASSES.index("road") in classes and classes <= set(range(len(SEGMENTATION_CLASSES)))
    env.close()


def test_night_is_darker_than_day():
    env = gymnasium.make(WORLD, camera=True, camera_size=(48, 36)).unwrapped
    scenario = env.scenarios.sample(np.random.default_rng(4))
    day, _ = env.reset(seed=4, options={"scenario": {**scenario, "light": 1.0}})
    night, _ = env.reset(seed=4, options={"scenario": {**scenario, "light": 0.15}})
    assert night["rgb"].mean() < 0.7 * day["rgb"].mean()
    env.close()


def test_episode_saved_as_animated_gif(tmp_path):
    env = gymnasium.make(WORLD, render_mode="rgb_array", render_size=(64, 48))
    env.reset(seed=0)
    frames = [env.render()]
    for _ in range(5):
        env.step(np.array([0.0, 0.5], np.float32))
        frames.append(env.render())
    env.close()
    path = tmp_path / "episode.gif"
    save_gif(frames, path, fps=10)
    with Image.open(path) as gif:
        assert gif.n_frames == 6 and gif.size == (64, 48)
    assert [p.name for p in tmp_path.iterdir()] == ["episode.gif"]
    with pytest.raises(ValueError, match="frame 0"):
        save_gif([np.zeros((4, 4), np.float32)], tmp_path / "bad.gif")


def test_close_frees_the_client_and_twice_is_safe():
    env = gymnasium.make(WORLD)
    env.reset(seed=0)
    client = env.unwrapped.client
    assert pybullet.isConnected(physicsClientId=client)
    env.close()
    env.close()
    assert not pybullet.isConnected(physicsClientId=client)
