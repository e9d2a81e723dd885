"""tutelage/Driving-v0: scenarios, sensors, privileged info and how episodes end."""
from __future__ import annotations

import gymnasium
import numpy as np
import pytest

import tutelage  # noqa: F401  (registers the worlds)
from tutelage_plugins.teachers.experts import DrivingExpert
from tutelage_plugins.worlds.driving import SEGMENTATION_CLASSES

WORLD = "tutelage/Driving-v0"


def test_scenario_option_replays_exactly_that_scenario():
    env = gymnasium.make(WORLD)
    _, info = env.reset(seed=11, options={"edge_case": "ice + night"})
    scenario = info["scenario"]
    assert scenario["edge_cases"] == ["ice", "night"] and scenario["friction"] <= 0.2
    env.reset(seed=12, options={"scenario": scenario})
    _, _, _, _, step_info = env.step(np.zeros(2, np.float32))
    assert step_info["friction"] == scenario["friction"]
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


