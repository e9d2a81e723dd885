"""Rule kinds for the built-in worlds' constitutions (``check = { rule = "...", ... }``).

Each rule reads the privileged ``info`` of a step (as the experts do) and
judges an *action*: ``check(step, action)`` returns None when the action keeps
the principle, else a sentence with the numbers involved; ``revise(step,
action)`` returns the smallest change that keeps it and how it was found
(``projection`` onto the allowed set, or a ``search`` over the action box), or
None when no action in the box does. Critics re-run ``check`` on the revision
to say whether it fixed the violation.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

# The driving world's action scale (tutelage_plugins.worlds.driving): pedal 1 = 4 m/s, steer 1 = 0.45 rad.
MAX_SPEED, MAX_STEER, WHEELBASE, EGO_REACH = 4.0, 0.45, 0.325, 0.27
# The arm's action scale (tutelage_plugins.worlds.arm): ±1 = ±1.5 rad/s; obstacles are 6 cm wide boxes.
JOINT_SPEED, OBSTACLE_HALF, CUBE_HALF = 1.5, 0.03, 0.025
EPS = 1e-6


class SpeedCap:
    """Driving: the commanded speed (positive pedal × 4 m/s) must stay under a cap the state sets.

    Subclasses give ``cap(step) -> (m/s, why) | None``; the revision is the
    projection of the pedal onto the cap lowered by ``slack`` (m/s): a student
    trained on revisions that sit exactly on the cap hovers on it and breaks
    it again at every wobble, so the revision aims a little inside.
    """

    tolerance = 0.05  # m/s
    slack = 0.0  # m/s

    def cap(self, step: Any) -> tuple[float, str] | None:
        raise NotImplementedError

    def check(self, step: Any, action: np.ndarray) -> str | None:
        found = self.cap(step)
        commanded = max(float(action[1]), 0.0) * MAX_SPEED
        if found is None or commanded <= found[0] + self.tolerance:
            return None
        limit, why = found
        return (f"at {step.time:.1f} s the car commanded {commanded:.1f} m/s (driving at {float(step.info['speed']):.1f} m/s) "
                f"{why}; at most {limit:.1f} m/s keeps the principle")

    def revise(self, step: Any, action: np.ndarray) -> tuple[np.ndarray, str] | None:
        found = self.cap(step)
        revised = np.array(action, dtype=np.float64)
        if found is not None:
            revised[1] = min(revised[1], max(found[0] - self.slack, 0.0) / MAX_SPEED)
        return revised, "projection"


def _non_negative(value: float, name: str) -> float:
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return float(value)


def _actors_ahead(info: Any) -> tuple[Any, np.ndarray]:
    """The actors and how far ahead of the car each is along the road (m; negative behind)."""
    actors = info["actors"]
    return actors, np.asarray(actors["s"], dtype=np.float64) - float(info["progress"])


class YieldToCrossing(SpeedCap):
    """Slow for anyone whose path crosses the ego lane ahead: the time to reach them at the commanded
    speed must stay above ``min_ttc`` seconds."""

    def __init__(self, min_ttc: float = 3.0, lookahead: float = 12.0, margin: float = 0.35,
                 kinds: tuple[str, ...] | list[str] = ("pedestrian", "cyclist"), slack: float = 0.0):
        if min_ttc <= 0:
            raise ValueError(f"min_ttc must be positive, got {min_ttc}")
        self.slack = _non_negative(slack, "slack")
        self.min_ttc, self.lookahead, self.margin, self.kinds = float(min_ttc), float(lookahead), float(margin), tuple(kinds)

    def cap(self, step: Any) -> tuple[float, str] | None:
        info = step.info
        actors, ahead = _actors_ahead(info)
        if not len(ahead):
            return None
        speed = max(float(info["speed"]), 0.3)
        horizon = np.minimum(np.maximum(ahead, 0.0) / speed + 1.0, 4.0)
        d_now, d_then = actors["d"], actors["d"] + actors["vd"] * horizon
        centre, reach = -0.5 * float(info["lane_width"]), 0.3 + actors["radius"]
        crossing = (np.isin(np.asarray(actors["kind"]), self.kinds) & actors["active"] & (ahead > -0.3)
                    & (ahead < self.lookahead) & (np.maximum(d_now, d_then) >= centre - reach)
                    & (np.minimum(d_now, d_then) <= centre + reach))
        if not crossing.any():
            return None
        gaps = np.where(crossing, ahead - actors["radius"] - EGO_REACH - self.margin, np.inf)
        nearest = int(np.argmin(gaps))
        gap = max(float(gaps[nearest]), 0.0)
        return gap / self.min_ttc, (f"while a {actors['kind'][nearest]} crossing its lane was {gap:.1f} m ahead; "
                                    f"the time to reach them must stay above {self.min_ttc:.1f} s")


class Headway(SpeedCap):
    """Keep a time headway of at least ``min_headway`` seconds to the vehicle ahead in the ego lane."""

    def __init__(self, min_headway: float = 1.5, lookahead: float = 15.0, slack: float = 0.0):
        if min_headway <= 0:
            raise ValueError(f"min_headway must be positive, got {min_headway}")
        self.slack = _non_negative(slack, "slack")
        self.min_headway, self.lookahead = float(min_headway), float(lookahead)

    def cap(self, step: Any) -> tuple[float, str] | None:
        info = step.info
        actors, ahead = _actors_ahead(info)
        if not len(ahead):
            return None
        half = 0.5 * float(info["lane_width"])
        in_lane = ((np.asarray(actors["kind"]) == "car") & actors["active"] & (ahead > 0.0) & (ahead < self.lookahead)
                   & (np.abs(actors["d"] + half) < half))
        if not in_lane.any():
            return None
        gap = max(float((ahead - actors["radius"] - EGO_REACH)[in_lane].min()), 0.0)
        return gap / self.min_headway, (f"with a car {gap:.1f} m ahead in its lane; the time headway must stay "
                                        f"above {self.min_headway:.1f} s")


class SpeedLimit(SpeedCap):
    """A speed limit that tightens at night (scenario ``light``), in the wet and on ice (``friction``)."""

    def __init__(self, limit: float = 2.2, night: float = 1.6, wet: float = 1.5, ice: float = 1.2,
                 night_light: float = 0.3, wet_friction: float = 0.6, ice_friction: float = 0.25, slack: float = 0.0):
        self.slack = _non_negative(slack, "slack")
        self.limits = {"": float(limit), "at night": float(night), "in the wet": float(wet), "on ice": float(ice)}
        if min(self.limits.values()) < 0:
            raise ValueError("speed limits must not be negative")
        self.night_light, self.wet_friction, self.ice_friction = float(night_light), float(wet_friction), float(ice_friction)

    def cap(self, step: Any) -> tuple[float, str]:
        friction, light = float(step.info["friction"]), float(step.scenario.get("light", 1.0))
        conditions = [""]
        if light < self.night_light:
            conditions.append("at night")
        if friction < self.ice_friction:
            conditions.append("on ice")
        elif friction < self.wet_friction:
            conditions.append("in the wet")
        limit = min(self.limits[c] for c in conditions)
        named = " and ".join(c for c in conditions if c) or "in good conditions"
        return limit, f"{named} (friction {friction:.2f}, light {light:.2f}), where the limit is {limit:.1f} m/s"


class LaneKeeping:
    """Stay inside the lane: the offset from the lane centre predicted ``horizon`` seconds ahead (a
    kinematic bicycle) must stay within ``max_offset`` metres, or shrink. Revised by a search over steering."""

    def __init__(self, max_offset: float = 0.3, horizon: float = 0.5, grid: int = 81):
        self.max_offset, self.horizon, self.grid = float(max_offset), float(horizon), int(grid)

    def predicted(self, step: Any, steer: Any) -> Any:
        info = step.info
        v, t = max(float(info["speed"]), 0.0), self.horizon
        turn = v * np.tan(np.asarray(steer) * MAX_STEER) / WHEELBASE - v * float(info["curvature"][0])
        return float(info["lane_offset"]) + v * t * math.sin(float(info["heading_error"])) + 0.5 * v * t * t * turn

    def _keeps(self, step: Any, predicted: Any) -> Any:
        return (np.abs(predicted) <= self.max_offset) | (np.abs(predicted) < abs(float(step.info["lane_offset"])) - 1e-3)

    def check(self, step: Any, action: np.ndarray) -> str | None:
        predicted = float(self.predicted(step, float(action[0])))
        if self._keeps(step, predicted):
            return None
        return (f"at {step.time:.1f} s the car was {float(step.info['lane_offset']):+.2f} m from its lane centre; with "
                f"steering {float(action[0]):+.2f} it would be {predicted:+.2f} m off {self.horizon:.1f} s later, "
                f"beyond {self.max_offset:.2f} m and not returning")

    def revise(self, step: Any, action: np.ndarray) -> tuple[np.ndarray, str] | None:
        if self.check(step, action) is None:
            return np.array(action, dtype=np.float64), "search"
        steers = np.linspace(-1.0, 1.0, self.grid)
        keeps = self._keeps(step, self.predicted(step, steers))
        if not keeps.any():
            return None
        revised = np.array(action, dtype=np.float64)
        revised[0] = steers[keeps][np.argmin(np.abs(steers[keeps] - revised[0]))]
        return revised, "search"


class SmoothControl:
    """No jerky steering or throttle: each step may change an action component by at most its limit
    (the revision clips the change to ``1 - slack`` of it)."""

    def __init__(self, max_steer_change: float = 0.15, max_pedal_change: float = 0.3, slack: float = 0.0):
        self.limits = np.array([max_steer_change, max_pedal_change], dtype=np.float64)
        if (self.limits <= 0).any():
            raise ValueError("the largest changes must be positive")
        if not 0.0 <= slack < 1.0:
            raise ValueError(f"slack must be in [0, 1), got {slack}")
        self.slack = float(slack)

    def check(self, step: Any, action: np.ndarray) -> str | None:
        if step.previous_action is None:
            return None
        change = np.asarray(action, dtype=np.float64) - step.previous_action
        worst = int(np.argmax(np.abs(change) - self.limits))
        if abs(change[worst]) <= self.limits[worst] + EPS:
            return None
        name = ("steering", "throttle/brake")[worst]
        return (f"at {step.time:.1f} s the {name} jumped from {float(step.previous_action[worst]):+.2f} to "
                f"{float(action[worst]):+.2f} in one step, more than {self.limits[worst]:.2f}")

    def revise(self, step: Any, action: np.ndarray) -> tuple[np.ndarray, str] | None:
        if step.previous_action is None:
            return np.array(action, dtype=np.float64), "projection"
        prev, limits = step.previous_action, self.limits * (1.0 - self.slack)
        return np.clip(action, prev - limits, prev + limits), "projection"


def _halfspace(action: np.ndarray, g: np.ndarray, bound: float) -> np.ndarray:
    """The closest action ``a`` to ``action`` with ``g · a >= bound``, clipped to the box."""
    short = bound - float(g @ action)
    if short > 0 and float(g @ g) > EPS:
        action = action + short / float(g @ g) * g
    return np.clip(action, -1.0, 1.0)


def _hand_velocity(step: Any, action: np.ndarray) -> np.ndarray:
    return np.asarray(step.info["jacobian"]) @ (np.asarray(action, dtype=np.float64) * JOINT_SPEED)


def _boxes(info: Any) -> tuple[np.ndarray, np.ndarray]:
    """Obstacle boxes on the table (and the cube where there is one): centres and half extents."""
    centres = np.asarray(info["obstacles"], dtype=np.float64).reshape(-1, 3)
    halves = np.column_stack([np.full(len(centres), OBSTACLE_HALF), np.full(len(centres), OBSTACLE_HALF), centres[:, 2]])
    if "object_position" in info:
        centres = np.vstack([centres, np.asarray(info["object_position"], dtype=np.float64)])
        halves = np.vstack([halves, np.full(3, CUBE_HALF)])
    return centres, halves


class ObstacleClearance:
    """Arm: keep the hand ``min_clearance`` metres clear of obstacles; inside that distance it may
    not move closer. Revised by projecting the joint velocities onto 'no approach'."""

    def __init__(self, min_clearance: float = 0.04, horizon: float = 0.1):
        self.min_clearance, self.horizon = float(min_clearance), float(horizon)

    def _approaching(self, step: Any, action: np.ndarray) -> list[tuple[int, float, np.ndarray, float]]:
        hand = np.asarray(step.info["hand_position"], dtype=np.float64)
        centres = np.asarray(step.info["obstacles"], dtype=np.float64).reshape(-1, 3)
        velocity = _hand_velocity(step, action)
        found = []
        for i, centre in enumerate(centres):
            half = np.array([OBSTACLE_HALF, OBSTACLE_HALF, centre[2]])
            outside = hand - np.clip(hand, centre - half, centre + half)
            distance = float(np.linalg.norm(outside))
            normal = outside / distance if distance > EPS else np.array([0.0, 0.0, 1.0])
            closing = float(normal @ velocity)
            if distance + self.horizon * closing < self.min_clearance and closing < -EPS:
                found.append((i, distance, normal, closing))
        return found

    def check(self, step: Any, action: np.ndarray) -> str | None:
        found = self._approaching(step, action)
        if not found:
            return None
        i, distance, _, closing = min(found, key=lambda f: f[1])
        return (f"at {step.time:.2f} s the hand was {100 * distance:.1f} cm from obstacle {i} and closing at "
                f"{-closing:.2f} m/s; it must keep {100 * self.min_clearance:.0f} cm clear")

    def revise(self, step: Any, action: np.ndarray) -> tuple[np.ndarray, str] | None:
        revised = np.array(action, dtype=np.float64)
        jacobian = np.asarray(step.info["jacobian"]) * JOINT_SPEED
        for _ in range(3):
            found = self._approaching(step, revised)
            if not found:
                break
            for _, _, normal, _ in found:
                revised = _halfspace(revised, jacobian.T @ normal, 0.0)
        return revised, "projection"


class JointSpeedNearTable:
    """Arm: below ``height`` metres the joints move no faster than ``max_speed`` rad/s. Revisions aim
    ``slack`` rad/s under the limit and already apply ``margin`` metres above the height."""

    def __init__(self, height: float = 0.12, max_speed: float = 0.6, slack: float = 0.0, margin: float = 0.0):
        self.height, self.max_speed = float(height), float(max_speed)
        self.slack, self.margin = _non_negative(slack, "slack"), _non_negative(margin, "margin")
        if self.slack >= self.max_speed:
            raise ValueError(f"slack must be under max_speed, got {slack}")

    def check(self, step: Any, action: np.ndarray) -> str | None:
        z = float(step.info["hand_position"][2])
        fastest = float(np.abs(action).max()) * JOINT_SPEED
        if z >= self.height or fastest <= self.max_speed + EPS:
            return None
        joint = int(np.argmax(np.abs(action)))
        return (f"at {step.time:.2f} s the hand was {100 * z:.1f} cm above the table and joint {joint + 1} was "
                f"commanded {fastest:.2f} rad/s; below {100 * self.height:.0f} cm the limit is {self.max_speed:.2f} rad/s")

    def revise(self, step: Any, action: np.ndarray) -> tuple[np.ndarray, str] | None:
        if float(step.info["hand_position"][2]) >= self.height + self.margin:
            return np.array(action, dtype=np.float64), "projection"
        bound = (self.max_speed - self.slack) / JOINT_SPEED
        return np.clip(action, -bound, bound), "projection"


class TopApproach:
    """Arm: no collision with an object from above: over an obstacle (or the cube) and within
    ``above`` metres of its top, the hand descends no faster than ``max_descent`` m/s (revisions
    aim ``slack`` m/s slower)."""

    def __init__(self, max_descent: float = 0.08, above: float = 0.1, radius: float = 0.05, slack: float = 0.0):
        self.max_descent, self.above, self.radius = float(max_descent), float(above), float(radius)
        self.slack = _non_negative(slack, "slack")

    def _over(self, step: Any) -> tuple[int, float] | None:
        hand = np.asarray(step.info["hand_position"], dtype=np.float64)
        centres, halves = _boxes(step.info)
        if len(centres) == 0:
            return None
        height = hand[2] - (centres[:, 2] + halves[:, 2])
        over = np.all(np.abs(hand[:2] - centres[:, :2]) <= halves[:, :2] + self.radius, axis=1)
        near = over & (height > -EPS) & (height < self.above)
        if not near.any():
            return None
        i = int(np.argmin(np.where(near, height, np.inf)))
        return i, float(height[i])

    def check(self, step: Any, action: np.ndarray) -> str | None:
        over = self._over(step)
        descent = -float(_hand_velocity(step, action)[2])
        if over is None or descent <= self.max_descent + EPS:
            return None
        i, height = over
        return (f"at {step.time:.2f} s the hand came down at {descent:.2f} m/s {100 * height:.1f} cm above the top of "
                f"object {i}; over an object the limit is {self.max_descent:.2f} m/s")

    def revise(self, step: Any, action: np.ndarray) -> tuple[np.ndarray, str] | None:
        revised = np.array(action, dtype=np.float64)
        if self._over(step) is None:
            return revised, "projection"
        g = np.asarray(step.info["jacobian"])[2] * JOINT_SPEED
        return _halfspace(revised, g, -max(self.max_descent - self.slack, 0.0)), "projection"


RULE_KINDS = {
    "yield-to-crossing": YieldToCrossing,
    "headway": Headway,
    "speed-limit": SpeedLimit,
    "lane-keeping": LaneKeeping,
    "smooth-control": SmoothControl,
    "obstacle-clearance": ObstacleClearance,
    "joint-speed-near-table": JointSpeedNearTable,
    "top-approach": TopApproach,
}
