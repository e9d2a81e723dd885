"""``tutelage/DrivingSensed-v0``: the driving world with condition sensors and a short memory."""
from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
from gymnasium import spaces

from tutelage.sim.sensors import Perception
from tutelage_plugins.worlds.driving import BOUNDS, DrivingEnv

RANGES = np.array([BOUNDS["light"].high, BOUNDS["friction"].high])  # the sensors' ranges: the scenario bounds


class SensedDrivingEnv(DrivingEnv):
    """The driving world (:class:`~tutelage_plugins.worlds.driving.DrivingEnv`) with two more sensors and a memory.

    Same roads, actors, weather, rewards, episode ends and privileged
    ``info``. The observation is the driving world's vector (the estimators'
    speed, lane offset, heading and curvature, then the lidar), followed by
    two condition sensors, as cars carry them: an ambient **light sensor**
    (the scenario's light) and a **road-grip estimate** (the road's friction,
    as a road-condition sensor infers it), each with white noise, a bias
    drawn per episode and a slow drift (:class:`~tutelage.sim.sensors.Perception`;
    about 0.025 in all, an optimistic grip estimate), drawn from a generator of
    their own so the driving world's readings stay as they are for the same
    seed, and then the vector's **change over the last** ``memory`` **steps**
    (default 5: 0.1 s; zeros at the start), from which a memoryless policy
    can tell a pedestrian walking into the lane from one waiting at the kerb.
    Rules that tighten at night, in the wet and on ice (a constitution's
    speed limit) are learnable from it; nothing in it is exact.
    """

    world_id = "tutelage/DrivingSensed-v0"

    def __init__(self, render_mode: str | None = None, scenarios: Any = None, memory: int = 5, **kwargs: Any):
        if int(memory) < 1:
            raise ValueError(f"memory must be at least 1 step, got {memory}")
        super().__init__(render_mode, scenarios, **kwargs)
        if self.camera is not None:
            raise ValueError("tutelage/DrivingSensed-v0 has no camera observation; use tutelage/DrivingCamera-v0")
        self.memory = int(memory)
        self.conditions = Perception(2, tau=2.0 / self.dt)
        base = self.observation_space
        span = base.high - base.low
        self.observation_space = spaces.Box(
            low=np.concatenate([base.low, [0.0, 0.0], -span]).astype(np.float32),
            high=np.concatenate([base.high, RANGES, span]).astype(np.float32),
            dtype=np.float32,
        )
        self._past: deque[np.ndarray] = deque(maxlen=self.memory + 1)

    def build(self, scenario: dict[str, Any]) -> None:
        super().build(scenario)
        self.conditions.reset(self.np_random.spawn(1)[0], noise=[0.01, 0.01],
                              bias=[0.02, 0.02], drift=[0.01, 0.01])
        self._truth = np.array([scenario["light"], scenario["friction"]])
        self._past.clear()

    def observe(self) -> tuple[np.ndarray, dict[str, Any]]:
        state, info = super().observe()
        sensed = np.clip(self.conditions.read(self._truth), 0.0, RANGES).astype(np.float32)
        self._past.append(state)
        return np.concatenate([state, sensed, state - self._past[0]]), info
