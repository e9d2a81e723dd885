"""A procedurally built two-lane road: its centreline, road coordinates and meshes.

Road coordinates are ``(s, d)``: ``s`` the distance along the centreline,
``d`` the signed lateral offset (left positive). Traffic drives on the right:
the ego lane's centre is at ``d = -lane_width / 2``. No PyBullet here.
"""
from __future__ import annotations

import math

import numpy as np

STEP = 0.25  # centreline sampling (m)


class Road:
    """Straights and curves of bounded curvature, smoothed so curvature changes gradually.

    The first ``lead_in`` metres are straight; the centreline continues
    ``extension`` metres past ``length`` (the goal) so traffic can drive on.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        length: float,
        max_curvature: float,
        lane_width: float,
        lead_in: float = 6.0,
        extension: float = 15.0,
    ):
        self.length, self.lane_width = float(length), float(lane_width)
        self.half_width = self.lane_width  # two lanes
        total = self.length + extension + lead_in
        n = int(math.ceil(total / STEP)) + 1
        curvature = np.zeros(n)
        position, straight = lead_in, False
        while position < total:
            piece = rng.uniform(3.0, 8.0) if straight else rng.uniform(4.0, 10.0)
            if not straight:
                value = rng.uniform(0.3, 1.0) * max_curvature * rng.choice([-1.0, 1.0])
                curvature[int(position / STEP) : int((position + piece) / STEP)] = value
            position += piece
            straight = not straight
        window = int(1.5 / STEP)
        self.curvature = np.convolve(np.pad(curvature, window, mode="edge"), np.ones(2 * window + 1) / (2 * window + 1), "valid")
        self.s = np.arange(n) * STEP
        self.heading = np.concatenate(([0.0], np.cumsum(0.5 * (self.curvature[1:] + self.curvature[:-1]) * STEP)))
        mid = 0.5 * (self.heading[1:] + self.heading[:-1])
        self.x = np.concatenate(([0.0], np.cumsum(np.cos(mid) * STEP)))
        self.y = np.concatenate(([0.0], np.cumsum(np.sin(mid) * STEP)))
        self.end = self.s[-1]

    # -- queries -----------------------------------------------------------------

    def pose(self, s: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World ``x, y, heading`` of road coordinates ``(s, d)`` (arrays)."""
        heading = np.interp(s, self.s, self.heading)
        x = np.interp(s, self.s, self.x) - np.sin(heading) * d
        y = np.interp(s, self.s, self.y) + np.cos(heading) * d
        return x, y, heading

    def curvature_at(self, s: np.ndarray | float) -> np.ndarray:
        return np.interp(s, self.s, self.curvature)

    def project(self, x: float, y: float, hint: int) -> tuple[int, float, float, float]:
        """``(index, s, d, heading)`` of the centreline point nearest ``(x, y)``, searched near ``hint``."""
        lo = max(hint - 8, 0)
        hi = min(hint + 40, len(self.s) - 1)
        dx = self.x[lo:hi] - x
        dy = self.y[lo:hi] - y
        index = lo + int(np.argmin(dx * dx + dy * dy))
        heading = float(self.heading[index])
        c, s_ = math.cos(heading), math.sin(heading)
        rx, ry = x - float(self.x[index]), y - float(self.y[index])
        along = rx * c + ry * s_
        lateral = -rx * s_ + ry * c
        return index, float(self.s[index]) + along, lateral, heading + float(self.curvature[index]) * along

    def strip(self, d_right: float, d_left: float, z: float, every: int = 2, dash: float = 0.0):
        """Triangle mesh ``(vertices, indices)`` of the band ``d_right <= d <= d_left`` at height ``z``.

        With ``dash > 0`` the band is cut into dashes of that length (gaps equal).
        """
        s = self.s[::every]
        xl, yl, _ = self.pose(s, np.full_like(s, d_left))
        xr, yr, _ = self.pose(s, np.full_like(s, d_right))
        vertices = np.empty((2 * len(s), 3))
        vertices[0::2] = np.stack([xr, yr, np.full_like(s, z)], axis=1)
        vertices[1::2] = np.stack([xl, yl, np.full_like(s, z)], axis=1)
        keep = np.ones(len(s) - 1, dtype=bool) if dash <= 0 else (((s[:-1] / dash).astype(int) % 2) == 0)
        quads = np.nonzero(keep)[0]
        a, b = 2 * quads, 2 * quads + 1
        indices = np.stack([a, a + 2, b, b, a + 2, b + 2], axis=1).ravel()
        return vertices, indices
