"""tutelage/Driving-v0: scenarios, sensors, privileged info and how episodes end."""
from __future__ import annotations

import gymnasium
import numpy as np
import pytest

import tutelage.worlds  # noqa: F401  (registers the worlds with Gymnasium)
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
    assert observation[0] == pytest.approx(info["speed"], abs=0.3) and observation[0] != np.float32(info["speed"])
    assert np.all(observation[6:] <= 8.0) and np.all(observation[6:] > 0.0)
    env.close()


def car_ahead_scenario(env):
    """A straight road with a slow car ahead in the ego's lane (and seed to reset with)."""
    sampler = env.unwrapped.scenarios.with_overrides(
        traffic_count=6, traffic_speed=0.1, pedestrian_count=0, road_curvature=0.0, actuation_latency=0,
        sensor_noise=0.0, sensor_dropout=0.0,
    )
    for seed in range(20):
        scenario = sampler.sample(np.random.default_rng(seed))
        _, info = env.reset(seed=seed, options={"scenario": scenario})
        if np.any((info["actors"]["vs"] > 0) & (info["actors"]["d"] < 0)):
            return scenario, seed
    raise AssertionError("no scenario with a car ahead")


def close_behind(env, scenario, seed, gap=4.0):
    """Keep the lane at 2 m/s until the car ahead is ``gap`` metres away; return (observation, info, its index)."""
    observation, info = env.reset(seed=seed, options={"scenario": scenario})
    actors = info["actors"]
    ahead = np.nonzero((actors["vs"] > 0) & (actors["d"] < 0))[0]
    nearest = ahead[np.argmin(actors["s"][ahead])]
    keep_lane = DrivingExpert()
    while info["actors"]["s"][nearest] - info["progress"] > gap:
        action = keep_lane.act(observation, info)
        action[1] = 0.5
        observation, _, _, _, info = env.step(action)
    return observation, info, nearest


def test_lidar_measures_the_distance_to_the_car_ahead():
    env = gymnasium.make(WORLD)
    scenario, seed = car_ahead_scenario(env)
    observation, info, nearest = close_behind(env, scenario, seed)
    centre_gap = info["actors"]["s"][nearest] - info["progress"]  # straight road: along-road distance
    assert observation[6] == pytest.approx(centre_gap - 0.25, abs=0.05)  # ray 0 looks straight ahead at the car's back
    assert info["distances"][nearest] == pytest.approx(centre_gap - 0.25 - 0.27, abs=0.05)
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


def test_driving_into_a_slow_car_is_a_collision_when_time_to_collision_said():
    env = gymnasium.make(WORLD)
    scenario, seed = car_ahead_scenario(env)
    observation, info = env.reset(seed=seed, options={"scenario": scenario})
    steer = DrivingExpert()
    predicted = None
    for _ in range(1500):
        action = steer.act(observation, info)
        action[1] = 0.5  # a steady 2 m/s, whatever is ahead
        observation, reward, terminated, truncated, info = env.step(action)
        if predicted is None and info["time"] >= 2.0:
            predicted = info["time"] + info["min_ttc"]
        if terminated:
            break
    assert info["collision"] and info["collided_with"] == "car" and reward < -5.0
    assert info["time"] == pytest.approx(predicted, rel=0.1)
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




def test_sensor_noise_and_dropout_reach_the_lidar():
    env = gymnasium.make(WORLD)
    scenario, seed = car_ahead_scenario(env)
    readings = {}
    for name, noise, dropout in (("clean", 0.0, 0.0), ("noisy", 0.2, 0.0), ("dropped", 0.0, 1.0)):
        readings[name], _, _ = close_behind(env, {**scenario, "sensor_noise": noise, "sensor_dropout": dropout}, seed)
    env.close()
    clean, noisy, dropped = readings["clean"], readings["noisy"], readings["dropped"]
    assert 0.05 < np.std(noisy[6:] - clean[6:]) < 0.4
    assert np.all(dropped[6:] == 8.0) and clean[6:].min() < 8.0
