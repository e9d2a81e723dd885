"""Scripted experts: privileged teachers that read the ground truth in ``info``.

The driving and reach experts are stateless (an action depends only on the
current ``info``); their ``reset()`` does nothing. The push expert keeps a
mode and an integral within an episode: call ``reset()`` at each episode's
start (rollouts, DAgger and evaluation do).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from tutelage_plugins.worlds.kinematics import HOME, MAX_HAND_SPEED, resolved_rate

GRAVITY = 9.81


class DrivingExpert:
    """Follows the lane (Stanley steering), keeps speed and brakes for what may enter its lane.

    Steering: heading error plus ``atan(gain · lane offset / speed)`` plus the
    curvature feed-forward. Speed: ``cruise`` m/s (default: the road's
    ``speed_limit``), lowered for the friction, the curvature ahead, slower
    cars in the lane and actors whose path (their lateral velocity over the
    next seconds) crosses the lane; a unicyclist on the move is assumed to
    cross it (its speed swings). To slow down by
    more than 0.2 m/s it brakes with a pedal the friction can take (no locked
    wheels); otherwise it commands a wheel speed within the slip the friction
    allows (no spinning wheels).
    """

    name = "driving-expert"
    privileged = True

    def __init__(
        self,
        cruise: float | None = None,
        gain: float = 2.5,
        traction: float = 1.5,
        wheelbase: float = 0.325,
        max_steer: float = 0.45,
        max_speed: float = 4.0,
    ):
        self.cruise, self.gain, self.traction = cruise, gain, traction
        self.wheelbase, self.max_steer, self.max_speed = wheelbase, max_steer, max_speed

    def reset(self, seed: int | None = None) -> None:
        """Nothing to reset: the expert keeps no state between steps."""

    def act(self, observation: Any, info: dict[str, Any]) -> np.ndarray:
        speed = float(info["speed"])
        steer = -info["heading_error"] - math.atan2(self.gain * info["lane_offset"], abs(speed) + 0.5)
        steer += math.atan(self.wheelbase * float(info["curvature"][0]))
        target = self.target_speed(info)
        friction = float(info["friction"])
        if target < 0.05 and speed < 0.3:
            pedal = -1.0  # hold still
        elif target < speed - 0.2:  # brake, short of locking the wheels on this road
            pedal = -min(0.7 * friction, 1.5 * (speed - target))
        else:  # wheel speed command within the slip the road allows: no spinning
            slip = 0.15 + self.traction * friction
            pedal = min(max(target, speed - slip), speed + slip) / self.max_speed
        return np.array([np.clip(steer / self.max_steer, -1.0, 1.0), np.clip(pedal, -1.0, 1.0)], dtype=np.float32)

    def target_speed(self, info: dict[str, Any]) -> float:
        """The highest safe speed now (m/s)."""
        grip = 0.5 * float(info["friction"]) * GRAVITY  # tyre × ground friction
        brake = 0.6 * grip
        cruise = float(info["speed_limit"]) if self.cruise is None else self.cruise
        target = min(cruise, math.sqrt(0.5 * grip / max(info["max_curvature_ahead"], 1e-3)))
        actors = info["actors"]
        if len(actors["kind"]) == 0:
            return target
        ego_s, speed = info["progress"], max(float(info["speed"]), 0.3)
        centre = -0.5 * info["lane_width"]
        ahead = actors["s"] - ego_s
        horizon = np.minimum(ahead / speed + 1.0, 4.0)
        d_now, d_then = actors["d"], actors["d"] + actors["vd"] * horizon
        unsteady = np.array([kind == "unicyclist" for kind in actors["kind"]], dtype=bool) & (actors["vd"] != 0.0)
        d_then = np.where(unsteady, d_now + np.sign(actors["vd"]) * 2.0 * info["lane_width"], d_then)  # it may speed up
        reach = 0.3 + actors["radius"]
        conflict = (
            actors["active"]
            & (ahead > -0.3)
            & (ahead < 12.0)
            & (np.maximum(d_now, d_then) >= centre - reach)
            & (np.minimum(d_now, d_then) <= centre + reach)
        )
        if conflict.any():
            gap = ahead[conflict] - actors["radius"][conflict] - 0.27 - 0.35
            along = np.maximum(actors["vs"][conflict], 0.0)
            allowed = np.sqrt(np.maximum(along**2 + 2.0 * brake * np.minimum(gap, 8.0), 0.0))
            target = min(target, float(allowed.min()) if (gap > 0).all() else 0.0)
        return target


class ArmExpert:
    """Resolved-rate control: joint velocities ``Jᵀ(JJᵀ + λ²I)⁻¹ v`` for a hand velocity ``v``.

    ``v`` points at the current waypoint (capped at ``speed`` m/s); a
    null-space term pulls the joints towards the home pose. Waypoints climb
    over obstacles on the table. Subclasses choose the waypoint.
    """

    name = "arm-expert"
    privileged = True
    home = HOME

    def __init__(self, gain: float = 6.0, speed: float = 0.5, damping: float = 0.05, max_joint_speed: float = 1.5):
        self.gain, self.speed, self.damping, self.max_joint_speed = gain, speed, damping, max_joint_speed

    def reset(self, seed: int | None = None) -> None:
        """Nothing to reset: the expert keeps no state between steps."""

    def waypoint(self, info: dict[str, Any]) -> tuple[np.ndarray, float]:
        """Where the hand should head now, and the speed cap for getting there."""
        raise NotImplementedError

    def act(self, observation: Any, info: dict[str, Any]) -> np.ndarray:
        joints = resolved_rate(info["jacobian"], info["joint_positions"], self.hand_velocity(info), self.damping, self.home)
        return np.clip(joints / self.max_joint_speed, -1.0, 1.0).astype(np.float32)

    def hand_velocity(self, info: dict[str, Any]) -> np.ndarray:
        """The hand velocity (m/s) towards the waypoint, over obstacles, capped at the waypoint's speed."""
        hand = info["hand_position"]
        target, speed = self.waypoint(info)
        target = self.over_obstacles(hand, target, info["obstacles"])
        velocity = self.gain * (target - hand)
        norm = float(np.linalg.norm(velocity))
        if norm > speed:
            velocity *= speed / norm
        return velocity

    @staticmethod
    def over_obstacles(hand: np.ndarray, target: np.ndarray, obstacles: np.ndarray) -> np.ndarray:
        """Lift the waypoint above any obstacle between the hand and the target."""
        if len(obstacles) == 0:
            return target
        start, direction = hand[:2], target[:2] - hand[:2]
        length = float(np.linalg.norm(direction)) + 1e-9
        along = np.clip((obstacles[:, :2] - start) @ direction / length**2, 0.0, 1.0)
        nearest = start + along[:, None] * direction
        close = np.linalg.norm(obstacles[:, :2] - nearest, axis=1) < 0.11
        if not close.any():
            return target
        clearance = float((2.0 * obstacles[close, 2]).max()) + 0.08
        if min(hand[2], target[2]) >= clearance:
            return target
        if hand[2] < clearance - 0.01:  # first climb, then go across
            return np.array([hand[0], hand[1], clearance + 0.02])
        return np.array([target[0], target[1], max(target[2], clearance + 0.02)])


class ReachExpert(ArmExpert):
    """Moves the hand straight to the goal, climbing over obstacles."""

    name = "reach-expert"

    def waypoint(self, info: dict[str, Any]) -> tuple[np.ndarray, float]:
        return info["goal"], self.speed


class PushExpert(ArmExpert):
    """Pushes the cube to the goal: over the top to behind it, down a wide funnel, then through it.

    Everything is relative to the cube (``u`` points from the cube to the
    goal). Out of contact the hand heads for the point ``standoff`` behind the
    cube and descends gradually as it nears it: the waypoint's height falls
    from the transit height to the push height over the last ``funnel``
    metres (a cone, not a switch). A hand with a clear way there heads
    straight for it and never climbs; one that would pass over the cube and is
    far below the cone rises before it moves across, blended, not switched. Push mode starts once the hand is low and
    behind the cube within ``enter`` of the line through its centre, and
    lasts until it strays ``leave`` from that line or passes the cube
    (hysteresis); while pushing, the hand aims through the cube's centre
    with proportional and (bounded) integral action on its lateral offset.
    Stateful: :meth:`reset` clears the mode and the integral.
    """

    name = "push-expert"
    height = 0.025  # hand height while pushing (m)
    standoff = 0.06  # hand centre behind the cube centre before a push (m)
    funnel = 0.045  # the hand descends over this distance from the start of the push (m)
    enter, leave = 0.03, 0.05  # lateral offsets that start and end push mode (m)
    clearance = 0.05  # a low hand passing closer than this to the cube's centre must go over it (m)
    step = 8.0 / 240.0  # s per env step, for the integral

    def __init__(self, *args: Any, integral_gain: float = 3.0, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.integral_gain = integral_gain
        self.reset()

    def reset(self, seed: int | None = None) -> None:
        """Start an episode: out of push mode, integral zero."""
        self.pushing, self.integral = False, 0.0

    def waypoint(self, info: dict[str, Any]) -> tuple[np.ndarray, float]:
        hand, cube, goal = info["hand_position"], info["object_position"], info["goal"]
        to_goal = goal[:2] - cube[:2]
        u = to_goal / max(float(np.linalg.norm(to_goal)), 1e-9)
        normal = np.array([-u[1], u[0]])
        relative = hand[:2] - cube[:2]
        along, across = float(relative @ u), float(relative @ normal)
        if self.pushing:
            self.pushing = hand[2] < 0.06 and along < 0.0 and abs(across) < self.leave
        else:
            self.pushing = hand[2] < 0.05 and along < -0.02 and abs(across) < self.enter
            self.integral = 0.0
        if self.pushing:  # through the cube's centre, correcting the lateral offset
            self.integral = float(np.clip(self.integral + across * self.step, -0.005, 0.005))
            lateral = 0.5 * across + self.integral_gain * self.integral
            return np.array([*(cube[:2] + 0.05 * u - lateral * normal), self.height]), 0.15
        transit = max(0.1, float((2.0 * info["obstacles"][:, 2]).max()) + 0.08 if len(info["obstacles"]) else 0.1)
        behind = cube[:2] - self.standoff * u
        distance = float(np.linalg.norm(hand[:2] - behind))
        lift = min(max((distance - 0.01) / (self.funnel - 0.01), 0.0), 1.0)
        z = self.height + (transit - self.height) * lift
        speed = 0.25 + (self.speed - 0.25) * lift
        if not self.blocked(hand[:2], behind, cube[:2]):  # a clear way low behind the cube: no need to climb
            return np.array([*behind, min(z, max(hand[2], self.height))]), speed
        across_weight = min(max((hand[2] - z + 0.04) / 0.03, 0.0), 1.0)  # far below the cone: rise before going across
        return np.array([*(hand[:2] + across_weight * (behind - hand[:2])), z]), speed

    def blocked(self, hand: np.ndarray, behind: np.ndarray, cube: np.ndarray) -> bool:
        """Whether the straight way from the hand to the point behind the cube passes over the cube."""
        direction = behind - hand
        along = float(np.clip((cube - hand) @ direction / max(float(direction @ direction), 1e-12), 0.0, 1.0))
        return float(np.linalg.norm(hand + along * direction - cube)) < self.clearance


class PushHandExpert(PushExpert):
    """:class:`PushExpert` for ``tutelage/PushHand-v0``: the same hand velocity, as the action itself (±1 = ±0.5 m/s)."""

    name = "push-hand-expert"

    def act(self, observation: Any, info: dict[str, Any]) -> np.ndarray:
        return np.clip(self.hand_velocity(info) / MAX_HAND_SPEED, -1.0, 1.0).astype(np.float32)
