"""Scripted experts: privileged teachers that read the ground truth in ``info``.

Each is stateless (an action depends only on the current ``info``), so one
instance serves any number of episodes; ``reset()`` exists for callers that
expect it and does nothing.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

GRAVITY = 9.81


class DrivingExpert:
    """Follows the lane (Stanley steering), keeps speed and brakes for what may enter its lane.

    Steering: heading error plus ``atan(gain · lane offset / speed)`` plus the
    curvature feed-forward. Speed: ``cruise`` m/s, lowered for the friction,
    the curvature ahead, slower cars in the lane and actors whose path (their
    lateral velocity over the next seconds) crosses the lane; the wheel speed
    command stays within the slip the friction allows.
    """

    name = "driving-expert"
    privileged = True

    def __init__(
        self,
        cruise: float = 2.0,
        gain: float = 2.5,
        traction: float = 1.5,
        wheelbase: float = 0.325,
        max_steer: float = 0.45,
        max_speed: float = 4.0,
    ):
        self.cruise, self.gain, self.traction = cruise, gain, traction
        self.wheelbase, self.max_steer, self.max_speed = wheelbase, max_steer, max_speed

    def reset(self) -> None:
        """Nothing to reset: the expert keeps no state between steps."""

    def act(self, observation: Any, info: dict[str, Any]) -> np.ndarray:
        speed = float(info["speed"])
        steer = -info["heading_error"] - math.atan2(self.gain * info["lane_offset"], abs(speed) + 0.5)
        steer += math.atan(self.wheelbase * float(info["curvature"][0]))
        target = self.target_speed(info)
        if target < 0.05 and speed < 0.3:
            pedal = -1.0  # hold still
        else:  # wheel speed command within the slip the road allows: no spinning, no locked wheels
            slip = 0.15 + self.traction * float(info["friction"])
            pedal = min(max(target, speed - slip), speed + slip) / self.max_speed
        return np.array([np.clip(steer / self.max_steer, -1.0, 1.0), np.clip(pedal, -1.0, 1.0)], dtype=np.float32)

    def target_speed(self, info: dict[str, Any]) -> float:
        """The highest safe speed now (m/s)."""
        grip = 0.5 * float(info["friction"]) * GRAVITY  # tyre × ground friction
        brake = 0.6 * grip
        target = min(self.cruise, math.sqrt(0.5 * grip / max(info["max_curvature_ahead"], 1e-3)))
        actors = info["actors"]
        if len(actors["kind"]) == 0:
            return target
        ego_s, speed = info["progress"], max(float(info["speed"]), 0.3)
        centre = -0.5 * info["lane_width"]
        ahead = actors["s"] - ego_s
        horizon = np.minimum(ahead / speed + 1.0, 4.0)
        d_now, d_then = actors["d"], actors["d"] + actors["vd"] * horizon
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


def driving_expert(**options: Any) -> DrivingExpert:
    return DrivingExpert(**options)
