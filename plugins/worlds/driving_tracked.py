"""``tutelage/DrivingTracked-v0``: the sensed driving world plus an object tracker's list of road users."""
from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from tutelage.sim.sensors import ObjectTracker
from tutelage_plugins.worlds.driving import MAX_SPEED
from tutelage_plugins.worlds.driving_sensed import SensedDrivingEnv

VULNERABLE = ("pedestrian", "cyclist", "unicyclist")
TRACKER_STREAM = 7  # the tracker's draws: a stream of the scenario's layout seed of its own
LIMITS = np.array([1.0, 30.0, 30.0, 4.0 * MAX_SPEED, 4.0 * MAX_SPEED, 1.0], dtype=np.float32)  # per field, ±


class TrackedDrivingEnv(SensedDrivingEnv):
    """:class:`~tutelage_plugins.worlds.driving_sensed.SensedDrivingEnv` plus what a perception stack's
    object tracker reports (:class:`~tutelage.sim.sensors.ObjectTracker`).

    The observation is the sensed world's vector followed by ``tracks``
    (default 6) rows of (present, ahead m along the road, lateral m from the
    car, speed along the road relative to the car, lateral speed, vulnerable):
    the nearest cars, pedestrians, cyclists and unicyclists, nearest first.
    The tracker sees 12 m ahead in the dark and 20 m in clear daylight
    (``lane_visibility``); its errors (0.1 m and 0.1 m/s in good conditions,
    wandering over about 0.5 s as a filtered track's do) grow 3× as
    visibility fades and with ``sensor_noise``; it misses an object with
    ``sensor_dropout`` plus 0.1 × the lost visibility per reading, and misses
    everything during a lightning flash (a missed object coasts on its last
    estimate). Its random draws come from a stream of the scenario's layout
    seed of their own: the rest of the observation is the sensed world's for
    the same seed, and a replayed scenario sees the same tracks.
    """

    world_id = "tutelage/DrivingTracked-v0"

    def __init__(self, render_mode: str | None = None, scenarios: Any = None, tracks: int = 6, **kwargs: Any):
        super().__init__(render_mode, scenarios, **kwargs)
        self.tracker = ObjectTracker(tracks, tau=0.5 / self.dt)
        base = self.observation_space
        limits = np.tile(LIMITS, self.tracker.slots)
        self.track_limits = (np.where(np.arange(len(limits)) % len(LIMITS) == 0, 0.0, -limits).astype(np.float32), limits)
        self.observation_space = spaces.Box(low=np.concatenate([base.low, self.track_limits[0]]),
                                            high=np.concatenate([base.high, self.track_limits[1]]), dtype=np.float32)

    def build(self, scenario: dict[str, Any]) -> None:
        super().build(scenario)
        quality = 1.0 + 2.0 * (1.0 - self.visibility) + 5.0 * scenario["sensor_noise"]
        self.tracker.reset(np.random.default_rng([scenario["layout_seed"], TRACKER_STREAM]), len(self.kinds),
                           position_noise=0.1 * quality, velocity_noise=0.1 * quality,
                           dropout=min(scenario["sensor_dropout"] + 0.1 * (1.0 - self.visibility), 1.0),
                           range=12.0 + 8.0 * self.visibility)
        self.road_users = np.array([kind != "obstacle" for kind in self.kinds], dtype=bool)
        self.vulnerable = np.isin(np.array(self.kinds, dtype=object), VULNERABLE).astype(np.float32)

    def observe(self) -> tuple[np.ndarray, dict[str, Any]]:
        observation, info = super().observe()
        users = np.flatnonzero(self.road_users & self.active)
        tracks = self.tracker.read(users, self.actor_s[users] - self.ego_s, self.actor_d[users] - self.ego_d,
                                   self.actor_vs[users] - self.speed, self.actor_vd[users], self.vulnerable[users],
                                   blind=self.perception.blinded > 0)
        np.clip(tracks, *self.track_limits, out=tracks)
        return np.concatenate([observation, tracks]), info
