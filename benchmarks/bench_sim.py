"""Simulation benchmarks: env steps/s against a bare PyBullet loop, and the experts' success rates.

    python benchmarks/bench_sim.py speed                 # Driving-v0 vs bare loop, arms for reference
    python benchmarks/bench_sim.py experts --episodes 100 # expert success per named edge case
    python benchmarks/bench_sim.py experts --world tutelage/Push-v0 --episodes 50

``speed`` pins the process to one core and counts its CPU time (``process_time``),
so other work on a shared machine does not blur the ratio. The bare loop drives the very world the
env built (same bodies, substeps, motor commands, kinematic actor moves, 32-ray
``rayTestBatch``, contact query) with no Python around it; the env's overhead is
everything else (road projection, privileged info, observation assembly).
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import time

import gymnasium
import numpy as np
import pybullet

import tutelage.worlds  # noqa: F401  (registers the worlds with Gymnasium)
from tutelage.plugins import registry
from tutelage.sim.scenarios import ScenarioSampler
from tutelage_plugins.worlds.driving import CENTRE_AHEAD, DRIVE_FORCE, MAX_SPEED, STEERING, WHEEL_RADIUS, WHEELS

DRIVING = "tutelage/Driving-v0"
#: ~10 actors: 4 cars, 3 pedestrians/cyclists waiting at the kerb, 3 roadside obstacles
TEN_ACTORS = {"traffic_count": 4, "pedestrian_count": 3, "obstacle_count": 3, "pedestrian_crossing_prob": 0.0,
              "road_length": 300.0, "road_curvature": 0.0, "traffic_speed": 1.8, "actuation_latency": 0}
ACTION = np.array([0.0, 0.25], np.float32)  # straight on at 1 m/s: the cars ahead drive away


def driving_env(rays: int):
    env = gymnasium.make(DRIVING, lidar_rays=rays).unwrapped
    scenario = ScenarioSampler.for_world(DRIVING).with_overrides(**TEN_ACTORS).sample(np.random.default_rng(0))
    env.reset(seed=0, options={"scenario": scenario})
    return env


def time_env(rays: int, steps: int) -> float:
    env = driving_env(rays)
    start = time.process_time()
    for _ in range(steps):
        env.step(ACTION)
    elapsed = time.process_time() - start
    env.close()
    return steps / elapsed


def time_bare(rays: int, steps: int) -> float:
    """The same world stepped with the bare PyBullet calls the env makes."""
    env = driving_env(rays)
    c, ego, dt = env.client, env.ego, env.dt
    cars = [body for body, kind in zip(env.bodies, env.kinds) if kind == "car"]
    s = env.actor_s[: len(cars)].copy()
    vs = env.actor_vs[: len(cars)].copy()
    d = env.actor_d[: len(cars)].copy()
    target = [float(ACTION[1]) * MAX_SPEED / WHEEL_RADIUS] * 4
    angles = np.arange(rays) * (2 * math.pi / rays)
    lidar = env.lidar
    start = time.process_time()
    on_road = np.ones(len(cars), dtype=bool)
    for _ in range(steps):
        s += vs * dt
        x, y, heading = env.road.pose(s, d)
        leaving = on_road & ((s < 0.0) | (s > env.road.end))  # parked out of the way once, like the env does
        for i in np.nonzero(on_road)[0].tolist():
            z = -5.0 if leaving[i] else 0.1
            pybullet.resetBasePositionAndOrientation(
                cars[i], [x[i], y[i], z], [0, 0, math.sin(heading[i] / 2), math.cos(heading[i] / 2)], physicsClientId=c
            )
        on_road &= ~leaving
        pybullet.setJointMotorControlArray(ego, WHEELS, pybullet.VELOCITY_CONTROL, targetVelocities=target, forces=[DRIVE_FORCE] * 4, physicsClientId=c)
        pybullet.setJointMotorControlArray(ego, STEERING, pybullet.POSITION_CONTROL, targetPositions=[0.0, 0.0], physicsClientId=c)
        for _ in range(env.substeps):
            pybullet.stepSimulation(physicsClientId=c)
        (px, py, _), orientation = pybullet.getBasePositionAndOrientation(ego, physicsClientId=c)
        pybullet.getBaseVelocity(ego, physicsClientId=c)
        yaw = pybullet.getEulerFromQuaternion(orientation)[2]
        directions = np.stack([np.cos(angles + yaw), np.sin(angles + yaw), np.zeros(rays)], axis=1)
        origin = np.array([px + CENTRE_AHEAD * math.cos(yaw), py + CENTRE_AHEAD * math.sin(yaw), lidar.height])  # the car's centre
        pybullet.rayTestBatch((origin + lidar.start * directions).tolist(), (origin + lidar.range * directions).tolist(), physicsClientId=c)
        pybullet.getContactPoints(bodyA=ego, physicsClientId=c)
    elapsed = time.process_time() - start
    env.close()
    return steps / elapsed


def time_world(world: str, steps: int) -> tuple[float, float]:
    """(steps/s with the expert's actions, resets/s) for any world, resets included in neither."""
    env = gymnasium.make(world).unwrapped
    expert = registry("teachers").get(registry("worlds")[world].expert)()
    stepping, resets, done = 0.0, [], 0
    seed = 0
    while done < steps:
        start = time.process_time()
        observation, info = env.reset(seed=seed)
        resets.append(time.process_time() - start)
        seed += 1
        for _ in range(min(steps - done, 400)):
            action = expert.act(observation, info)
            start = time.process_time()
            observation, _, terminated, _, info = env.step(action)
            stepping += time.process_time() - start
            done += 1
            if terminated:
                break
    env.close()
    return steps / stepping, 1.0 / statistics.median(resets)


def speed(args: argparse.Namespace) -> None:
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    print(f"Driving-v0, ~10 actors, {args.steps} steps per run, median of {args.repeats} runs, one core")
    print(f"{'rays':>5} {'bare loop':>12} {'env':>12} {'overhead':>9}")
    for rays in args.rays:
        time_env(rays, 200), time_bare(rays, 200)  # warm up
        bare, env = [], []
        for _ in range(args.repeats):  # interleaved, so machine noise hits both alike
            bare.append(time_bare(rays, args.steps))
            env.append(time_env(rays, args.steps))
        b, e = statistics.median(bare), statistics.median(env)
        print(f"{rays:>5} {b:>10.0f}/s {e:>10.0f}/s {100 * (b / e - 1):>8.1f}%")
    print("\nwith each world's expert acting (env.step time only), and resets")
    for world in (DRIVING, "tutelage/Reach-v0", "tutelage/Push-v0"):
        steps_per_s, resets_per_s = time_world(world, args.steps)
        print(f"{world:<22} {steps_per_s:>8.0f} steps/s {resets_per_s:>8.1f} resets/s")


def experts(args: argparse.Namespace) -> None:
    world = args.world
    sampler = ScenarioSampler.for_world(world)
    env = gymnasium.make(world)
    name = registry("worlds")[world].expert
    expert = registry("teachers").get(name)()
    print(f"{name} on {world}, {args.episodes} episodes per row (seeds 0..{args.episodes - 1})")
    print(f"{'scenarios':<56} {'success':>8} {'collision':>10} {'off-road':>9} {'timeout':>8} {'coll./km':>9}")
    for edge_case in [None, *sampler.edge_case_names]:
        counts = {"success": 0, "collision": 0, "off_road": 0, "timeout": 0}
        metres = 0.0
        for seed in range(args.episodes):
            observation, info = env.reset(seed=seed, options={"edge_case": edge_case} if edge_case else None)
            while True:
                observation, _, terminated, truncated, info = env.step(expert.act(observation, info))
                if terminated or truncated:
                    break
            metres += info.get("distance_m", math.nan)
            off_road = info.get("off_road", False)
            key = "success" if info["is_success"] else "collision" if info["collision"] else "off_road" if off_road else "timeout"
            counts[key] += 1
        rates = "".join(f" {100 * counts[k] / args.episodes:>{w}.1f}%" for k, w in (("success", 7), ("collision", 9), ("off_road", 8), ("timeout", 7)))
        per_km = f"{counts['collision'] / (metres / 1000):>9.2f}" if metres == metres else f"{'-':>9}"  # NaN: no distance
        print(f"{edge_case or 'default (randomized)':<56}{rates} {per_km}")
    env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    speed_parser = commands.add_parser("speed", help="env steps/s vs a bare PyBullet loop")
    speed_parser.add_argument("--steps", type=int, default=3000)
    speed_parser.add_argument("--repeats", type=int, default=7)
    speed_parser.add_argument("--rays", type=int, nargs="+", default=[32, 128])
    experts_parser = commands.add_parser("experts", help="a world's expert: success per edge case")
    experts_parser.add_argument("--world", default=DRIVING)
    experts_parser.add_argument("--episodes", type=int, default=100)
    args = parser.parse_args()
    {"speed": speed, "experts": experts}[args.command](args)


if __name__ == "__main__":
    main()
