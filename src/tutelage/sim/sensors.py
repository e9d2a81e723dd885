"""Sensors: a planar lidar from ``rayTestBatch`` and a camera from the tiny renderer."""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pybullet


class Lidar:
    """``rays`` horizontal rays spread over 360°, starting ``start`` metres from the centre.

    :meth:`scan` returns the distance to the first hit along each ray (``range``
    when nothing is hit). After :meth:`reset` with a generator, readings carry
    Gaussian ``noise`` (std, metres) and ``dropout`` (probability a ray reads
    ``range``), drawn from that generator in blocks of ``BLOCK`` scans.
    """

    BLOCK = 64

    def __init__(self, rays: int = 32, range: float = 8.0, start: float = 0.35, height: float = 0.1):
        if rays < 1:
            raise ValueError(f"lidar needs at least one ray, got {rays}")
        self.rays, self.range, self.start, self.height = rays, float(range), float(start), float(height)
        self.angles = np.arange(rays) * (2.0 * math.pi / rays)
        self._unit = np.stack([np.cos(self.angles), np.sin(self.angles), np.zeros(rays)], axis=1)
        self.reset(None)

    def reset(self, rng: np.random.Generator | None, noise: float = 0.0, dropout: float = 0.0) -> None:
        """Start an episode: noise and dropout from ``rng`` (none when ``rng`` is None)."""
        self._rng, self._noise, self._dropout = rng, float(noise), float(dropout)
        self._row = self.BLOCK

    def _draw(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        if self._rng is None or (self._noise <= 0.0 and self._dropout <= 0.0):
            return None, None
        if self._row == self.BLOCK:
            shape = (self.BLOCK, self.rays)
            self._gauss = self._rng.standard_normal(shape) * self._noise if self._noise > 0.0 else None
            self._drop = self._rng.random(shape) < self._dropout if self._dropout > 0.0 else None
            self._row = 0
        row, self._row = self._row, self._row + 1
        return (None if self._gauss is None else self._gauss[row]), (None if self._drop is None else self._drop[row])

    def scan(self, client: int, x: float, y: float, yaw: float, out: np.ndarray | None = None) -> np.ndarray:
        """Distances (float32, or written into ``out``) from ``(x, y)`` with the first ray along ``yaw``."""
        c, s = math.cos(yaw), math.sin(yaw)
        directions = self._unit @ np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 0.0]])
        origin = (x, y, self.height)
        starts = (origin + self.start * directions).tolist()
        ends = (origin + self.range * directions).tolist()
        hits = pybullet.rayTestBatch(starts, ends, physicsClientId=client)
        distances = self.start + np.array([hit[2] for hit in hits]) * (self.range - self.start)
        gauss, drop = self._draw()
        if gauss is not None:
            distances = np.minimum(np.maximum(distances + gauss, 0.0), self.range)
        if drop is not None:
            distances[drop] = self.range
        if out is None:
            return distances.astype(np.float32)
        out[:] = distances
        return out


class Camera:
    """A pinhole camera rendered with the CPU tiny renderer (works in DIRECT mode).

    :meth:`capture` returns ``(rgb uint8 (H, W, 3), segmentation int32 (H, W))``
    where the segmentation holds body ids (-1 for background, drawn as sky
    dimmed by the light level).
    """

    sky = np.array([140.0, 180.0, 230.0])

    def __init__(self, width: int = 96, height: int = 72, fov: float = 70.0, near: float = 0.05, far: float = 30.0):
        self.width, self.height = int(width), int(height)
        self.projection = pybullet.computeProjectionMatrixFOV(fov, self.width / self.height, near, far)

    def capture(
        self,
        client: int,
        eye: Sequence[float],
        target: Sequence[float],
        light: float = 1.0,
        up: Sequence[float] = (0.0, 0.0, 1.0),
    ) -> tuple[np.ndarray, np.ndarray]:
        view = pybullet.computeViewMatrix(eye, target, up)
        _, _, rgba, _, segmentation = pybullet.getCameraImage(
            self.width,
            self.height,
            view,
            self.projection,
            lightDirection=[0.4, 0.3, 1.0],
            lightColor=[light, light, light],
            lightAmbientCoeff=0.25 + 0.35 * light,
            lightDiffuseCoeff=0.7 * light,
            lightSpecularCoeff=0.1 * light,
            shadow=0,
            renderer=pybullet.ER_TINY_RENDERER,
            physicsClientId=client,
        )
        rgb = np.array(np.asarray(rgba, dtype=np.uint8).reshape(self.height, self.width, 4)[:, :, :3])
        seg = np.asarray(segmentation, dtype=np.int32).reshape(self.height, self.width)
        rgb[seg < 0] = np.clip(self.sky * min(light, 1.0), 0, 255).astype(np.uint8)
        return rgb, seg
