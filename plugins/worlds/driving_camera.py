"""``tutelage/DrivingCamera-v0``: the driving world as a camera student sees it."""
from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from tutelage_plugins.worlds.driving import MAX_SPEED, DrivingEnv

LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601 weights of R, G, B


class CameraDrivingEnv(DrivingEnv):
    """The driving world (:class:`~tutelage_plugins.worlds.driving.DrivingEnv`) observed through the front camera only.

    Same roads, actors, weather, rewards, episode ends and privileged
    ``info`` (the expert drives exactly as there); only the observation
    differs: a ``Dict`` with ``frame``, the front camera's grey image
    ``(1, H, W)`` uint8 (default 32 × 24, darker at night, washed out by
    lightning), rendered every ``frame_every`` steps (default 5: 10 frames
    a second) and held in between, and ``speed`` ``(1,)``, the odometry's
    estimate (noisy, biased, drifting; never the true speed). No lane
    estimates, no lidar, no actor positions.
    """

    world_id = "tutelage/DrivingCamera-v0"

    def __init__(self, render_mode: str | None = None, scenarios: Any = None, frame_size: tuple[int, int] = (32, 24),
                 frame_every: int = 5, render_size: tuple[int, int] = (240, 180)):
        if int(frame_every) < 1:
            raise ValueError(f"frame_every must be at least 1, got {frame_every}")
        super().__init__(render_mode, scenarios, camera=True, camera_size=tuple(frame_size), render_size=render_size)
        self.frame_every = int(frame_every)
        self._held: tuple[int, tuple[np.ndarray, np.ndarray]] | None = None
        h, w = self.camera.height, self.camera.width
        self.observation_space = spaces.Dict({
            "frame": spaces.Box(0, 255, (1, h, w), np.uint8),
            "speed": spaces.Box(-3 * MAX_SPEED, 3 * MAX_SPEED, (1,), np.float32),
        })

    def _front_camera(self) -> tuple[np.ndarray, np.ndarray]:
        if self._held is None or self.frame % self.frame_every == 0 or self.frame < self._held[0]:
            self._held = (self.frame, super()._front_camera())
        return self._held[1]

    def observe(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        observation, info = super().observe()
        grey = np.rint(observation["rgb"] @ LUMA).astype(np.uint8)
        return {"frame": grey[None], "speed": observation["state"][:1].copy()}, info
