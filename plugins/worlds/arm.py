"""``tutelage/Reach-v0``, ``tutelage/Push-v0`` and ``tutelage/PushHand-v0``: the Franka Panda at a table with obstacles."""
from __future__ import annotations

import math
from collections import deque
from typing import Any, ClassVar

import numpy as np
from tutelage.sim.world import pybullet  # first, so that pybullet loads without its banner
from gymnasium import spaces

from tutelage.sim.scenarios import Bounds, ScenarioSampler
from tutelage.sim.sensors import Camera
from tutelage.sim.world import PyBulletEnv, Ragged, jittered_colours
from tutelage_plugins.worlds.kinematics import HOME, MAX_HAND_SPEED, resolved_rate
from tutelage_plugins.worlds.metrics import ARM_METRICS

ARM_JOINTS = list(range(7))
FINGERS = [9, 10]
HAND = 11  # the grasp target between the fingertips
MAX_JOINT_SPEED = 1.5  # rad/s at action ±1
TORQUE = (87.0,) * 4 + (12.0,) * 3
MAX_OBSTACLES = 3
OBJECT_HALF = 0.025
SUCCESS_DISTANCE = {"reach": 0.03, "push": 0.04}

COMMON_BOUNDS = {
    "obstacle_count": Bounds(0, MAX_OBSTACLES, kind=int),
    "obstacle_height": Bounds(0.01, 0.2),
    "friction": Bounds(0.01, 2.0),
    "sensor_noise": Bounds(0.0, 0.1),
    "start_noise": Bounds(0.0, 0.5),
    "actuation_latency": Bounds(0, 10, kind=int),
    "light": Bounds(0.0, 1.5),
    "color_jitter": Bounds(0.0, 0.5),
    "layout_seed": Bounds(0, 2**31 - 1, kind=int),
}
COMMON_DEFAULTS = {
    "obstacle_count": {"low": 0, "high": 3},
    "obstacle_height": {"low": 0.03, "high": 0.1},
    "friction": {"low": 0.5, "high": 1.0},
    "sensor_noise": {"low": 0.0, "high": 0.003},
    "start_noise": {"low": 0.0, "high": 0.1},
    "actuation_latency": {"low": 0, "high": 1},
    "light": {"low": 0.7, "high": 1.0},
    "color_jitter": {"low": 0.0, "high": 0.15},
    "layout_seed": {"low": 0, "high": 2**31 - 1},
}
COMMON_EDGE_CASES = {
    "cluttered": {"obstacle_count": 3, "obstacle_height": {"low": 0.08, "high": 0.15}},
    "heavy-sensor-noise": {"sensor_noise": {"low": 0.01, "high": 0.03}},
    "night": {"light": {"low": 0.1, "high": 0.25}},
    "actuation-lag": {"actuation_latency": {"low": 2, "high": 4}},
    "odd-start": {"start_noise": {"low": 0.25, "high": 0.4}},
}


class ArmEnv(PyBulletEnv):
    """The Panda arm (fixed base) at a table; joint-velocity control. Subclasses set the task.

    ## Action Space
    ``Box(-1, 1, (7,), float32)``: joint velocity commands, ±1 = ±1.5 rad/s,
    for the seven arm joints (torque-limited motors; the fingers stay closed).

    ## Observation Space
    ``Box(float32)``: joint positions (7), joint velocities (7), hand position
    (3), goal position (3), hand minus goal (3), then the task's extras (see
    the subclass), then ``3 × 3`` obstacle positions (box centres, as seen by
    a noisy camera; absent obstacles read ``(0, 0, -1)``).
    """

    metrics = ARM_METRICS

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 30}
    time_step = 1.0 / 240.0
    substeps = 8
    task: ClassVar[str] = "reach"
    extra_size: ClassVar[int] = 0

    def __init__(self, render_mode: str | None = None, scenarios: ScenarioSampler | None = None, render_size: tuple[int, int] = (160, 120)):
        super().__init__(render_mode, scenarios)
        self.render_camera = Camera(*render_size, fov=50.0, far=5.0)
        size = 23 + self.extra_size + 3 * MAX_OBSTACLES
        self.observation_space = spaces.Box(-10.0, 10.0, (size,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (7,), np.float32)
        self.dt = self.time_step * self.substeps

    # -- building ----------------------------------------------------------------

    def build(self, scenario: dict[str, Any]) -> None:
        c = self.client
        layout = np.random.default_rng(scenario["layout_seed"])
        colour = jittered_colours(layout, scenario["color_jitter"])

        self.table = pybullet.createMultiBody(
            0,
            pybullet.createCollisionShape(pybullet.GEOM_PLANE, physicsClientId=c),
            pybullet.createVisualShape(pybullet.GEOM_BOX, halfExtents=[1.0, 1.0, 0.01], rgbaColor=colour((0.6, 0.45, 0.3)), physicsClientId=c),
            basePosition=[0.4, 0.0, -0.0105],
            physicsClientId=c,
        )
        pybullet.changeDynamics(self.table, -1, lateralFriction=scenario["friction"], physicsClientId=c)
        # the arm's visual meshes take most of the loading time: skip them unless rendering
        flags = 0 if self.render_mode else pybullet.URDF_IGNORE_VISUAL_SHAPES
        self.robot = pybullet.loadURDF("franka_panda/panda.urdf", useFixedBase=True, flags=flags, physicsClientId=c)
        start = HOME + layout.uniform(-1.0, 1.0, 7) * scenario["start_noise"]
        for joint, angle in zip(ARM_JOINTS, start.tolist()):
            pybullet.resetJointState(self.robot, joint, angle, physicsClientId=c)
        for finger in FINGERS:
            pybullet.resetJointState(self.robot, finger, 0.0, physicsClientId=c)
        pybullet.setJointMotorControlArray(
            self.robot, FINGERS, pybullet.POSITION_CONTROL, targetPositions=[0.0, 0.0], forces=[20.0, 20.0], physicsClientId=c
        )
        self.goal = self.place_task(scenario, layout, colour)
        goal_visual = pybullet.createVisualShape(pybullet.GEOM_SPHERE, radius=0.02, rgbaColor=[0.1, 0.8, 0.2, 0.6], physicsClientId=c)
        pybullet.createMultiBody(0, -1, goal_visual, basePosition=self.goal.tolist(), physicsClientId=c)
        self.obstacles = self._place_obstacles(scenario, layout, colour)
        self.pending = deque([np.zeros(self.action_space.shape, np.float32)] * scenario["actuation_latency"])
        self.collided_with = ""
        self.obstacle_noise = self.np_random.normal(0.0, scenario["sensor_noise"], (MAX_OBSTACLES, 3))

    def place_task(self, scenario: dict[str, Any], layout: np.random.Generator, colour) -> np.ndarray:
        """Create the task's bodies; return the goal position."""
        raise NotImplementedError

    def keep_clear(self) -> list[tuple[np.ndarray, float]]:
        """Points on the table (and radii) obstacles must not cover."""
        return [(self.goal[:2], 0.1)]

    def _place_obstacles(self, scenario: dict[str, Any], layout: np.random.Generator, colour) -> np.ndarray:
        c, height = self.client, scenario["obstacle_height"]
        clear = [*self.keep_clear(), (np.array([0.0, 0.0]), 0.3)]
        centres, self.obstacle_ids = [], set()
        for _ in range(scenario["obstacle_count"]):
            for _attempt in range(50):
                xy = np.array([layout.uniform(0.3, 0.7), layout.uniform(-0.35, 0.35)])
                if all(np.linalg.norm(xy - p) > r + 0.04 for p, r in clear):
                    break
            else:
                continue
            clear.append((xy, 0.08))
            centres.append([xy[0], xy[1], height / 2])
            half = [0.03, 0.03, height / 2]
            body = pybullet.createMultiBody(
                0,
                pybullet.createCollisionShape(pybullet.GEOM_BOX, halfExtents=half, physicsClientId=c),
                pybullet.createVisualShape(pybullet.GEOM_BOX, halfExtents=half, rgbaColor=colour((0.8, 0.2, 0.2)), physicsClientId=c),
                basePosition=centres[-1],
                physicsClientId=c,
            )
            self.obstacle_ids.add(body)
        return np.array(centres, dtype=float).reshape(-1, 3)

    # -- stepping ----------------------------------------------------------------

    def step(self, action):
        self.pending.append(np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0))
        command = self.joint_command(self.pending.popleft()) * MAX_JOINT_SPEED
        pybullet.setJointMotorControlArray(
            self.robot, ARM_JOINTS, pybullet.VELOCITY_CONTROL, targetVelocities=command.tolist(), forces=TORQUE, physicsClientId=self.client
        )
        self.physics_step()
        self.frame += 1
        if not self.collided_with:
            for contact in pybullet.getContactPoints(bodyA=self.robot, physicsClientId=self.client):
                if contact[2] in self.obstacle_ids:
                    self.collided_with = "obstacle"
                    break
        observation, info = self.observe()
        reward = -info["goal_distance"] - 1.0 * info["collision"] + 1.0 * info["is_success"]
        terminated = info["collision"] or info["is_success"]
        return observation, float(reward), bool(terminated), False, info

    def joint_command(self, action: np.ndarray) -> np.ndarray:
        """The joint velocity command in [-1, 1] for an action that reaches the arm now."""
        return action

    def observe(self) -> tuple[np.ndarray, dict[str, Any]]:
        c = self.client
        states = pybullet.getJointStates(self.robot, ARM_JOINTS, physicsClientId=c)
        q = np.array([s[0] for s in states])
        qd = np.array([s[1] for s in states])
        link = pybullet.getLinkState(self.robot, HAND, computeLinkVelocity=1, computeForwardKinematics=1, physicsClientId=c)
        hand, hand_velocity = np.array(link[4]), np.array(link[6])
        self.kinematics = q.copy(), self._jacobian(q)  # the arm as it stands until the next physics step
        info = {
            "frame": self.frame,
            "time": self.frame * self.dt,
            "joint_positions": q,
            "joint_velocities": qd,
            "hand_position": hand,
            "hand_velocity": hand_velocity,
            "goal": self.goal.copy(),
            "obstacles": Ragged(self.obstacles.copy()),
            "jacobian": self.kinematics[1].copy(),
            "collision": bool(self.collided_with),
            "collided_with": self.collided_with,
        }
        extras = self.task_state(info)
        seen = np.zeros((MAX_OBSTACLES, 3))
        seen[:, 2] = -1.0
        seen[: len(self.obstacles)] = self.obstacles + self.obstacle_noise[: len(self.obstacles)]
        observation = np.concatenate([q, qd, hand, self.goal, hand - self.goal, extras, seen.ravel()])
        info["is_success"] = bool(info["goal_distance"] < SUCCESS_DISTANCE[self.task]) and not info["collision"]
        return np.clip(observation, -10.0, 10.0).astype(np.float32), info

    def task_state(self, info: dict[str, Any]) -> np.ndarray:
        """Add the task's ground truth (``goal_distance`` at least) to ``info``; return its observed extras."""
        raise NotImplementedError

    def _jacobian(self, q: np.ndarray) -> np.ndarray:
        """Linear Jacobian (3, 7) of the hand at joint positions ``q``."""
        joints = [*q.tolist(), 0.0, 0.0]  # the two fingers are movable joints too
        linear, _ = pybullet.calculateJacobian(self.robot, HAND, [0.0, 0.0, 0.0], joints, [0.0] * 9, [0.0] * 9, physicsClientId=self.client)
        return np.array(linear)[:, :7]

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array" or self.client is None:
            return None
        rgb, _ = self.render_camera.capture(self.client, [1.2, -0.9, 0.9], [0.45, 0.0, 0.1], self.scenario["light"])
        return rgb


class ReachEnv(ArmEnv):
    """Move the Panda's hand to a goal in the air above a table with obstacles.

    ## Action Space
    See :class:`ArmEnv`: seven joint velocity commands in [-1, 1].

    ## Observation Space
    ``Box(float32, (32,))``: joint positions and velocities, hand, goal, hand
    minus goal, and three obstacle positions (see :class:`ArmEnv`).

    ## Rewards
    Minus the hand–goal distance (m) every step; +1 on success, −1 on a
    collision.

    ## Starting State
    The home pose plus uniform joint noise of ``start_noise`` rad.

    ## Episode End
    Terminated when the hand is within 3 cm of the goal (``is_success``) or
    touches an obstacle (``collision``); truncated after 150 steps (5 s).

    ## Info (privileged ground truth)
    ``joint_positions``, ``joint_velocities``, ``hand_position``,
    ``hand_velocity``, ``goal``, exact ``obstacles`` (N, 3), the hand's
    ``jacobian`` (3, 7), ``goal_distance``, ``collision``, ``is_success``,
    ``frame``, ``time``; at reset ``scenario``.
    """

    task = "reach"
    bounds: ClassVar[dict[str, Bounds]] = {
        "goal_x": Bounds(0.2, 0.8),
        "goal_y": Bounds(-0.5, 0.5),
        "goal_z": Bounds(0.05, 0.8),
        **COMMON_BOUNDS,
    }

    @classmethod
    def default_scenarios(cls) -> ScenarioSampler:
        defaults = {
            "goal_x": {"low": 0.35, "high": 0.65},
            "goal_y": {"low": -0.3, "high": 0.3},
            "goal_z": {"low": 0.1, "high": 0.45},
            **COMMON_DEFAULTS,
        }
        edge_cases = {**COMMON_EDGE_CASES, "low-goal": {"goal_z": {"low": 0.05, "high": 0.08}}, "far-goal": {"goal_x": {"low": 0.68, "high": 0.75}}}
        return ScenarioSampler.declare("tutelage/Reach-v0", cls.bounds, defaults, edge_cases, ["cluttered + low-goal + heavy-sensor-noise"])

    def place_task(self, scenario, layout, colour) -> np.ndarray:
        return np.array([scenario["goal_x"], scenario["goal_y"], scenario["goal_z"]])

    def task_state(self, info: dict[str, Any]) -> np.ndarray:
        info["goal_distance"] = float(np.linalg.norm(info["hand_position"] - self.goal))
        return np.zeros(0)


class PushEnv(ArmEnv):
    """Push a cube across the table to a goal with the Panda's closed hand.

    ## Action Space
    See :class:`ArmEnv`: seven joint velocity commands in [-1, 1].

    ## Observation Space
    ``Box(float32, (43,))``: as :class:`ReachEnv` (the goal is on the table)
    plus the cube's position as a noisy camera sees it (3), cube minus goal
    (3), hand minus cube (3) and the hand's offset from the seen cube along
    and across the direction to the goal (2), before the obstacle positions.

    ## Rewards
    Minus the cube–goal distance (m) every step; +1 on success, −1 on a
    collision with an obstacle.

    ## Starting State
    The home pose plus joint noise; the cube at rest on the table.

    ## Episode End
    Terminated when the cube's centre is within 4 cm of the goal
    (``is_success``) or the arm touches an obstacle; truncated after 300
    steps (10 s).

    ## Info (privileged ground truth)
    As :class:`ReachEnv` plus ``object_position``, ``object_velocity`` and
    ``goal_distance`` (cube to goal).
    """

    task = "push"
    extra_size = 11
    world_id: ClassVar[str] = "tutelage/Push-v0"
    bounds: ClassVar[dict[str, Bounds]] = {
        "object_x": Bounds(0.25, 0.75),
        "object_y": Bounds(-0.4, 0.4),
        "push_distance": Bounds(0.0, 0.4),
        "push_angle": Bounds(-math.pi, math.pi),
        "object_mass": Bounds(0.01, 2.0),
        **COMMON_BOUNDS,
    }

    @classmethod
    def default_scenarios(cls) -> ScenarioSampler:
        defaults = {
            "object_x": {"low": 0.4, "high": 0.6},
            "object_y": {"low": -0.2, "high": 0.2},
            "push_distance": {"low": 0.1, "high": 0.2},
            "push_angle": {"low": -math.pi, "high": math.pi},
            "object_mass": {"low": 0.05, "high": 0.3},
            **COMMON_DEFAULTS,
        }
        edge_cases = {
            **COMMON_EDGE_CASES,
            "slippery": {"friction": {"low": 0.05, "high": 0.15}},
            "heavy-object": {"object_mass": {"low": 0.8, "high": 1.5}},
            "long-push": {"push_distance": {"low": 0.25, "high": 0.3}},
        }
        return ScenarioSampler.declare(cls.world_id, cls.bounds, defaults, edge_cases, ["cluttered + slippery + heavy-sensor-noise"])

    def place_task(self, scenario, layout, colour) -> np.ndarray:
        c = self.client
        start = np.array([scenario["object_x"], scenario["object_y"], OBJECT_HALF])
        half = [OBJECT_HALF] * 3
        self.object = pybullet.createMultiBody(
            scenario["object_mass"],
            pybullet.createCollisionShape(pybullet.GEOM_BOX, halfExtents=half, physicsClientId=c),
            pybullet.createVisualShape(pybullet.GEOM_BOX, halfExtents=half, rgbaColor=colour((0.2, 0.4, 0.9)), physicsClientId=c),
            basePosition=start.tolist(),
            physicsClientId=c,
        )
        pybullet.changeDynamics(self.object, -1, lateralFriction=1.0, physicsClientId=c)
        angle = scenario["push_angle"]
        self.object_start = start
        goal = start + scenario["push_distance"] * np.array([math.cos(angle), math.sin(angle), 0.0])
        goal[:2] = np.clip(goal[:2], [0.25, -0.45], [0.75, 0.45])
        return goal

    def keep_clear(self) -> list[tuple[np.ndarray, float]]:
        direction = self.goal[:2] - self.object_start[:2]
        behind = self.object_start[:2] - 0.1 * direction / max(np.linalg.norm(direction), 1e-9)
        path = [self.object_start[:2] + t * direction for t in np.linspace(0.0, 1.0, 5)]
        return [(p, 0.08) for p in (*path, behind)]

    def task_state(self, info: dict[str, Any]) -> np.ndarray:
        position, _ = pybullet.getBasePositionAndOrientation(self.object, physicsClientId=self.client)
        velocity, _ = pybullet.getBaseVelocity(self.object, physicsClientId=self.client)
        position = np.array(position)
        info["object_position"], info["object_velocity"] = position, np.array(velocity)
        info["goal_distance"] = float(np.linalg.norm(position[:2] - self.goal[:2]))
        seen = position + self.np_random.normal(0.0, self.scenario["sensor_noise"], 3)
        to_goal = self.goal[:2] - seen[:2]
        u = to_goal / max(float(np.linalg.norm(to_goal)), 1e-9)
        relative = info["hand_position"] - seen
        frame = [relative[:2] @ u, relative[0] * -u[1] + relative[1] * u[0]]  # along and across the push
        return np.concatenate([seen, seen - self.goal, relative, frame])


class PushHandEnv(PushEnv):
    """:class:`PushEnv` with hand-velocity control: the arm's inverse kinematics are the world's, not the policy's.

    ## Action Space
    ``Box(-1, 1, (3,), float32)``: the hand's velocity in the table frame,
    ±1 = ±0.5 m/s per axis. The world turns it into joint velocities by
    resolved-rate control (damped least squares on the hand's Jacobian, a
    null-space pull towards the home pose), clipped to ±1.5 rad/s per joint,
    as a robot's Cartesian velocity controller does.

    ## Observation Space, Rewards, Starting State, Episode End, Info
    As :class:`PushEnv`, and so are the scenarios: both worlds play the same
    episodes for the same seeds.
    """

    world_id = "tutelage/PushHand-v0"

    def __init__(self, render_mode: str | None = None, scenarios: ScenarioSampler | None = None, render_size: tuple[int, int] = (160, 120)):
        super().__init__(render_mode, scenarios, render_size)
        self.action_space = spaces.Box(-1.0, 1.0, (3,), np.float32)

    def joint_command(self, action: np.ndarray) -> np.ndarray:
        q, jacobian = self.kinematics  # observed after the last physics step: the arm has not moved since
        joints = resolved_rate(jacobian, q, action * MAX_HAND_SPEED)
        return np.clip(joints / MAX_JOINT_SPEED, -1.0, 1.0)
