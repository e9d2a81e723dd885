"""Sensors: a planar lidar from ``rayTestBatch`` and a camera from the tiny renderer."""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pybullet


class Lidar:
    """``rays`` horizontal rays spread over 360°, starting ``start`` metres from the centre.

    :meth:`scan` returns the distance to the first hit along each ray (``range``
    when nothing is hit), with Gaussian ``noise`` (std, metres) and ``dropout``
    (probability a ray reads ``range``) drawn from the given generator.
    """

    def __init__(self, rays: int = 32, range: float = 8.0, start: float = 0.35, height: float = 0.1):
        if rays < 1:
            raise ValueError(f"lidar needs at least one ray, got {rays}")
        self.rays, self.range, self.start, self.height = rays, float(range), float(start), float(height)
        self.angles = np.arange(rays) * (2.0 * math.pi / rays)

    def scan(
        self,
        client: int,
        x: float,
        y: float,
        yaw: float,
        rng: np.random.Generator | None = None,
        noise: float = 0.0,
        dropout: float = 0.0,
    ) -> np.ndarray:
        angles = self.angles + yaw
        directions = np.empty((self.rays, 3))
        directions[:, 0] = np.cos(angles)
        directions[:, 1] = np.sin(angles)
        directions[:, 2] = 0.0
        origin = np.array([x, y, self.height])
        starts = origin + self.start * directions
        ends = origin + self.range * directions
        hits = pybullet.rayTestBatch(starts.tolist(), ends.tolist(), physicsClientId=client)
        fractions = np.fromiter((hit[2] for hit in hits), dtype=np.float64, count=self.rays)
        distances = self.start + fractions * (self.range - self.start)
        if rng is not None and noise > 0.0:
            distances = np.clip(distances + rng.normal(0.0, noise, self.rays), 0.0, self.range)
        if rng is not None and dropout > 0.0:
            distances = np.where(rng.random(self.rays) < dropout, self.range, distances)
        return distances.astype(np.float32)


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
