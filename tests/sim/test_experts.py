"""The scripted experts: registered as privileged teachers, and good at their worlds."""
from __future__ import annotations

import gymnasium
import numpy as np
import pytest

import tutelage.worlds  # noqa: F401  (registers the worlds with Gymnasium)
from tutelage.plugins import registry
from tutelage.protocols import Teacher
from tutelage.sim.scenarios import ScenarioSampler


def run_episode(env, expert, seed, options=None):
    observation, info = env.reset(seed=seed, options=options)
    while True:
        observation, _, terminated, truncated, info = env.step(expert.act(observation, info))
        if terminated or truncated:
            return info


@pytest.mark.parametrize("name", ["driving-expert", "reach-expert", "push-expert", "push-hand-expert"])
def test_experts_are_registered_privileged_teachers(name):
    expert = registry("teachers").get(name)()
    assert isinstance(expert, Teacher) and expert.privileged and expert.name == name
    world = next(spec for spec in registry("worlds").values() if spec.expert == name)
    env = gymnasium.make(world.id)
    observation, info = env.reset(seed=0)
    action = expert.act(observation, info)
    assert env.action_space.contains(action)
    env.close()


def test_driving_expert_completes_95_percent_of_default_scenarios():
    env = gymnasium.make("tutelage/Driving-v0")
    expert = registry("teachers").get("driving-expert")()
    finals = [run_episode(env, expert, seed) for seed in range(20)]
    env.close()
    assert not any(info["collision"] for info in finals)
    assert np.mean([info["is_success"] for info in finals]) >= 0.95


def test_driving_expert_handles_a_unicyclist_crossing_a_highway_in_a_thunderstorm():
    env = gymnasium.make("tutelage/Driving-v0")
    expert = registry("teachers").get("driving-expert")()
    finals = [run_episode(env, expert, seed, {"edge_case": "unicyclist-crossing + highway + thunderstorm"}) for seed in range(3)]
    env.close()
    assert all(info["is_success"] for info in finals)
    assert all(info["lanes"] == 3 and "unicyclist" in list(info["actors"]["kind"]) for info in finals)


def test_push_expert_enters_push_mode_with_hysteresis_and_resets():
    env = gymnasium.make("tutelage/Push-v0")
    expert = registry("teachers").get("push-expert")()
    observation, info = env.reset(seed=3)
    modes = []
    for _ in range(150):
        observation, _, terminated, truncated, info = env.step(expert.act(observation, info))
        modes.append(expert.pushing)
        if terminated or truncated:
            break
    env.close()
    assert info["is_success"] and modes[-1] and not modes[0]
    assert sum(a != b for a, b in zip(modes, modes[1:])) <= 3  # few switches: no chattering at the funnel's edge
    expert.reset()
    assert not expert.pushing and expert.integral == 0.0



def test_push_expert_climbs_over_the_cube_only_when_it_is_in_the_way():
    expert = registry("teachers").get("push-expert")()
    cube, goal = np.array([0.5, 0.0, 0.025]), np.array([0.7, 0.0, 0.025])  # the push runs along +x
    info = {"object_position": cube, "goal": goal, "obstacles": np.array([[0.3, 0.3, 0.066]])}  # transit at 0.21 m
    behind_low = {**info, "hand_position": np.array([0.35, 0.0, 0.09])}  # low, 15 cm behind the cube
    waypoint, _ = expert.waypoint(behind_low)
    np.testing.assert_allclose(waypoint, [0.5 - expert.standoff, 0.0, 0.09])  # straight for the push start, no climb
    in_front_low = {**info, "hand_position": np.array([0.6, 0.0, 0.04])}  # low, on the goal's side of the cube
    waypoint, _ = expert.waypoint(in_front_low)
    np.testing.assert_allclose(waypoint, [0.6, 0.0, 0.212])  # rise first, then cross over the cube

def test_driving_expert_stops_for_crossing_pedestrians_on_ice():
    env = gymnasium.make("tutelage/Driving-v0")
    expert = registry("teachers").get("driving-expert")()
    finals = [run_episode(env, expert, seed, {"edge_case": "pedestrian-crossing + ice"}) for seed in range(4)]
    env.close()
    assert sum(info["is_success"] for info in finals) >= 3


@pytest.mark.parametrize(("world", "expert", "episodes", "required"), [("tutelage/Reach-v0", "reach-expert", 10, 10), ("tutelage/Push-v0", "push-expert", 10, 9), ("tutelage/PushHand-v0", "push-hand-expert", 10, 9)])
def test_arm_experts_reach_their_goals(world, expert, episodes, required):
    env = gymnasium.make(world)
    teacher = registry("teachers").get(expert)()
    finals = [run_episode(env, teacher, seed) for seed in range(episodes)]
    env.close()
    assert sum(info["is_success"] for info in finals) >= required  # a collision is a failure


def test_the_hand_world_is_the_push_world_with_the_inverse_kinematics_inside():
    """The same expert through either door moves the hand the same way: the world's resolved-rate
    control turns the hand-velocity action into the joint command the joint-space expert sends."""
    sampler = ScenarioSampler.for_world("tutelage/Push-v0").with_overrides(actuation_latency=0)
    hands = {}
    for world, name in (("tutelage/Push-v0", "push-expert"), ("tutelage/PushHand-v0", "push-hand-expert")):
        env = gymnasium.make(world, scenarios=sampler)
        expert = registry("teachers").get(name)()
        observation, info = env.reset(seed=5)
        path = []
        for _ in range(60):
            observation, _, terminated, truncated, info = env.step(expert.act(observation, info))
            path.append(info["hand_position"])
        hands[world] = np.array(path)
        env.close()
    moved = np.linalg.norm(hands["tutelage/Push-v0"][-1] - hands["tutelage/Push-v0"][0])
    assert moved > 0.05
    np.testing.assert_allclose(hands["tutelage/PushHand-v0"], hands["tutelage/Push-v0"], atol=2e-3)


def test_a_hand_action_moves_the_hand_at_its_speed():
    sampler = ScenarioSampler.for_world("tutelage/PushHand-v0").with_overrides(actuation_latency=0, obstacle_count=0)
    env = gymnasium.make("tutelage/PushHand-v0", scenarios=sampler)
    env.reset(seed=1)
    for _ in range(10):
        _, _, _, _, info = env.step(np.array([0.0, 0.6, 0.0], np.float32))  # 0.3 m/s to the left
    env.close()
    np.testing.assert_allclose(info["hand_velocity"], [0.0, 0.3, 0.0], atol=0.03)
