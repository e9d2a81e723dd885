"""Perception, not ground truth: what the driving student sees is an estimate, the truth stays in info."""
from __future__ import annotations

import gymnasium
import numpy as np
import pytest

import tutelage.worlds  # noqa: F401  (registers the worlds with Gymnasium)
from tutelage.sim.sensors import Perception
from tutelage_plugins.teachers.experts import DrivingExpert

WORLD = "tutelage/Driving-v0"
SEED_EDGE_CASE = "unicyclist-crossing + highway + thunderstorm"


def truth(info):
    """The privileged quantities behind the first six observation entries."""
    return np.array([info["speed"], info["lane_offset"], info["heading_error"], *info["curvature"]])


def drive(env, seed, steps, options=None):
    """The expert drives; return (observations (steps, 6), truths (steps, 6), infos)."""
    expert = DrivingExpert()
    observation, info = env.reset(seed=seed, options=options)
    seen, true, infos = [observation[:6]], [truth(info)], [info]
    for _ in range(steps):
        observation, _, terminated, truncated, info = env.step(expert.act(observation, info))
        seen.append(observation[:6])
        true.append(truth(info))
        infos.append(info)
        if terminated or truncated:
            break
    return np.array(seen), np.array(true), infos


@pytest.mark.parametrize(("seed", "edge_case"), [(0, None), (1, "night"), (2, "odometry-drift"), (3, SEED_EDGE_CASE)])
def test_no_privileged_quantity_reaches_the_student_exactly(seed, edge_case):
    env = gymnasium.make(WORLD)
    seen, true, _ = drive(env, seed, 400, {"edge_case": edge_case} if edge_case else None)
    env.close()
    assert len(seen) > 300
    assert not np.any(seen == true.astype(np.float32))  # not one entry, not one step
    error = seen - true
    assert np.all(np.abs(error.mean(axis=0)) < 0.3) and np.all(error.std(axis=0) < 0.3)  # estimates, not noise


def test_perception_replays_exactly_from_the_seed():
    env = gymnasium.make(WORLD)
    first, _, _ = drive(env, 7, 150, {"edge_case": SEED_EDGE_CASE})
    second, _, _ = drive(env, 7, 150, {"edge_case": SEED_EDGE_CASE})
    other, _, _ = drive(env, 8, 150, {"edge_case": SEED_EDGE_CASE})
    env.close()
    assert np.array_equal(first, second) and not np.array_equal(first[:50], other[:50])


def test_lane_estimates_degrade_in_darkness_and_rain():
    env = gymnasium.make(WORLD).unwrapped
    scenario = env.scenarios.sample(np.random.default_rng(4))
    errors = {}
    for name, light, rain in (("day", 1.0, 0.0), ("storm", 0.1, 1.0)):
        seen, true, infos = drive(env, 4, 300, {"scenario": {**scenario, "light": light, "rain": rain}})
        held = np.mean(np.diff(seen[:, 1]) == 0.0)  # lane readings held over by dropouts
        errors[name] = (np.std(seen[:, 1] - true[:, 1]), held, infos[-1]["lane_visibility"])
    env.close()
    assert errors["storm"][0] > 2.5 * errors["day"][0]
    assert errors["storm"][1] > 0.2 > errors["day"][1]
    assert errors["day"][2] == 1.0 and errors["storm"][2] < 0.1


def test_perception_model_noise_bias_dropout_and_blindness():
    truth_value = np.array([1.0, 2.0])
    exact = Perception(2)
    assert np.array_equal(exact.read(truth_value), truth_value)  # no generator: perfect readings
    held = Perception(2)
    held.reset(np.random.default_rng(0), noise=0.1, dropout=[0.0, 1.0])
    first = held.read(truth_value)
    later = np.array([held.read(truth_value + 1.0) for _ in range(200)])
    assert np.all(later[:, 1] == first[1])  # always dropped: the first reading held
    assert abs(later[:, 0].mean() - 2.0) < 0.05 and 0.07 < later[:, 0].std() < 0.13
    biased = Perception(1)
    biased.reset(np.random.default_rng(1), bias=0.5)
    assert np.ptp([biased.read(np.zeros(1)) for _ in range(10)]) == 0.0 and biased.read(np.zeros(1))[0] != 0.0
    blind = Perception(2)
    blind.reset(np.random.default_rng(2), noise=0.1, blind=[False, True], blind_rate=1.0, blind_steps=5)
    readings = np.array([blind.read(truth_value) for _ in range(20)])
    assert len(np.unique(readings[:, 0])) == 20  # the unblinded channel reads afresh every time
    assert np.ptp(readings[:5, 1]) == 0.0 and len(np.unique(readings[:, 1])) <= 5  # a fresh reading between flashes


def test_lightning_blinds_the_camera():
    env = gymnasium.make(WORLD, camera=True, camera_size=(32, 24), lidar_rays=8).unwrapped
    scenario = env.scenarios.sample(np.random.default_rng(5), SEED_EDGE_CASE)
    observation, info = env.reset(seed=5, options={"scenario": {**scenario, "lightning": 5.0}})
    brightness = {True: [], False: []}
    for _ in range(120):
        observation, _, terminated, _, info = env.step(np.array([0.0, 0.3], np.float32))
        brightness[info["lightning"]].append(observation["rgb"].mean())
        if terminated:
            break
    env.close()
    assert brightness[True] and brightness[False]
    assert min(brightness[True]) > 200 > 2 * max(brightness[False])


def observation_at_reset(env, seed, edge_case):
    return env.reset(seed=seed, options={"edge_case": edge_case})[0]


def test_sensed_world_adds_noisy_condition_sensors_and_a_memory():
    env = gymnasium.make("tutelage/DrivingSensed-v0", memory=5)
    expert, rows = DrivingExpert(), []
    for seed, edge_case in ((0, None), (1, "night"), (2, "ice")):
        observation, info = env.reset(seed=seed, options={"edge_case": edge_case} if edge_case else None)
        scenario, states = info["scenario"], [observation[:38]]
        assert env.observation_space.contains(observation) and observation.shape == (78,)
        assert np.array_equal(observation[40:], np.zeros(38, np.float32))  # no change yet at the start
        for _ in range(200):
            observation, _, terminated, truncated, info = env.step(expert.act(observation, info))
            states.append(observation[:38])
            rows.append((scenario["light"], scenario["friction"], *observation[38:40]))
            if len(states) > 5:
                assert np.array_equal(observation[40:], states[-1] - states[-6])  # the change over 5 steps
            if terminated or truncated:
                break
    plain = gymnasium.make(WORLD)  # the same world underneath: the same first readings for the same seed
    assert np.array_equal(observation_at_reset(plain, 2, "ice"), observation_at_reset(env, 2, "ice")[:38])
    plain.close()
    env.close()
    light, grip, sensed_light, sensed_grip = np.array(rows).T
    assert not np.any(sensed_light == light.astype(np.float32)) and not np.any(sensed_grip == grip.astype(np.float32))
    assert np.abs(sensed_light - light).mean() < 0.15 and np.abs(sensed_grip - grip).mean() < 0.2  # informative
    night, ice = light < 0.3, grip < 0.25
    assert sensed_light[night].max() < sensed_light[~night].min() and sensed_grip[ice].max() < sensed_grip[~ice].min()


def test_object_tracker_reports_the_nearest_objects_in_range_nearest_first():
    from tutelage.sim.sensors import ObjectTracker

    tracker = ObjectTracker(slots=2, range=10.0)
    ahead, lateral, ids = np.array([12.0, 5.0, -3.0, 2.0, 7.0]), np.array([0.1, 0.2, 0.3, 0.4, 0.5]), np.arange(5)
    tracker.reset(None, 5)
    assert not tracker.read(ids, ahead, lateral, -ahead, lateral, np.ones(5), blind=True).any()  # never detected yet
    rows = tracker.read(ids, ahead, lateral, -ahead, lateral, np.array([1, 0, 1, 1, 0]))
    assert np.array_equal(rows.reshape(2, 6), np.float32([[1, 2, 0.4, -2, 0.4, 1], [1, 5, 0.2, -5, 0.2, 0]]))  # exact
    assert np.array_equal(tracker.read(ids, ahead + 1, lateral, -ahead, lateral, np.array([1, 0, 1, 1, 0]), blind=True), rows)

    tracker = ObjectTracker(slots=8, range=100.0, tau=25.0)
    tracker.reset(np.random.default_rng(0), 4, position_noise=0.2, velocity_noise=0.3, dropout=0.25)
    ahead = np.array([5.0, 6.0, 7.0, 8.0])  # apart by more than the noise: each keeps its slot
    readings = np.array([tracker.read(np.arange(4), ahead, ahead, ahead, ahead, np.ones(4)).reshape(8, 6)
                         for _ in range(4000)])[20:, :4, 1:5]  # all four detected by then
    errors = readings - ahead[None, :, None]
    assert abs(errors[:, :, :2].std() - 0.2) < 0.03 and abs(errors[:, :, 2:].std() - 0.3) < 0.045  # the stationary std
    assert abs(np.mean(np.all(readings[1:] == readings[:-1], axis=2)) - 0.25) < 0.02  # a miss coasts on the last estimate
    now, before = errors[1:].ravel(), errors[:-1].ravel()
    assert np.corrcoef(now, before)[0, 1] > 0.9  # the error wanders slowly, as a filtered track's does


def test_tracked_world_reports_crossing_pedestrians_with_noise_not_the_truth():
    env = gymnasium.make("tutelage/DrivingTracked-v0")
    sensed = gymnasium.make("tutelage/DrivingSensed-v0")
    assert np.array_equal(observation_at_reset(env, 5, "pedestrian-crossing")[:78],
                          observation_at_reset(sensed, 5, "pedestrian-crossing"))  # the tracker draws on its own
    sensed.close()
    expert, errors, counts = DrivingExpert(), [], []
    for seed in (5, 6):
        observation, info = env.reset(seed=seed, options={"edge_case": "pedestrian-crossing"})
        for _ in range(400):
            observation, _, terminated, truncated, info = env.step(expert.act(observation, info))
            tracks = observation[78:].reshape(6, 6)
            actors = info["actors"]
            ahead = np.asarray(actors["s"]) - info["progress"]
            walkers = (np.asarray(actors["kind"]) == "pedestrian") & (ahead > 0.0) & (ahead < 10.0)
            for j in np.flatnonzero(walkers):  # the pedestrian's track: the vulnerable one nearest its true position
                truth = np.array([ahead[j], actors["d"][j] - info["ego_d"], actors["vd"][j]])
                found = tracks[(tracks[:, 0] > 0) & (tracks[:, 5] > 0)][:, [1, 2, 4]]
                if len(found):
                    errors.append(found[np.argmin(np.abs(found[:, 0] - truth[0]))] - truth)
            counts.append(int(tracks[:, 0].sum()))
            if terminated or truncated:
                break
    env.close()
    errors = np.array(errors)
    assert len(errors) > 200 and not np.any(errors == 0.0)  # never the exact truth
    assert np.all(np.abs(errors).mean(axis=0) < 0.3)  # but close: a usable tracker
    assert max(counts) <= 6 and np.mean(counts) > 1.0
