"""A procedurally built road of ``lanes`` lanes each way: its centreline, road coordinates and meshes.

Road coordinates are ``(s, d)``: ``s`` the distance along the centreline,
``d`` the signed lateral offset (left positive). Traffic drives on the right:
lane ``k`` of the ego's direction (0 next to the centre line) has its centre
at ``d = -(k + 1/2) lane_width``; the ego keeps to lane 0. No PyBullet here.
"""
from __future__ import annotations

import math

import numpy as np

STEP = 0.25  # centreline sampling (m)
MAX_HEADING = 1.2  # rad from the first straight's direction: x only grows along the road


class Road:
    """Straights and curves of bounded curvature, smoothed so curvature changes gradually.

    Curves alternate in direction so the heading stays within ``MAX_HEADING``
    of the first straight's: the road never loops back onto itself.

    The first ``lead_in`` metres are straight; the centreline continues
    ``extension`` metres past ``length`` (the goal) so traffic can drive on.
    ``lanes`` lanes run each way (1: a two-lane road; 3: a six-lane highway).
    """

    def __init__(
        self,
        rng: np.random.Generator,
        length: float,
        max_curvature: float,
        lane_width: float,
        lead_in: float = 6.0,
        extension: float = 15.0,
        lanes: int = 1,
    ):
        self.length, self.lane_width, self.lanes = float(length), float(lane_width), int(lanes)
        self.half_width = self.lane_width * self.lanes
        total = self.length + extension + lead_in
        n = int(math.ceil(total / STEP)) + 1
        curvature = np.zeros(n)
        position, straight, heading = lead_in, False, 0.0
        while position < total:
            piece = rng.uniform(3.0, 8.0) if straight else rng.uniform(4.0, 10.0)
            if not straight:
                value = rng.uniform(0.3, 1.0) * max_curvature * rng.choice([-1.0, 1.0])
                if value * heading > 0.0:  # turn back towards the road's general direction
                    value = -value
                if value != 0.0:  # never turn past MAX_HEADING: the road cannot cross itself
                    piece = min(piece, (MAX_HEADING + abs(heading)) / abs(value))
                first, last = int(position / STEP), int((position + piece) / STEP)
                curvature[first:last] = value
                heading += value * (last - first) * STEP  # what the samples integrate to
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

        ahead = int(6.0 / STEP)  # the largest |curvature| over the next 6 m, per centreline point
        padded = np.pad(np.abs(self.curvature), (0, ahead - 1), mode="edge")
        self.max_curvature_ahead = np.lib.stride_tricks.sliding_window_view(padded, ahead).max(axis=1)
        self._padded_curvature = np.pad(self.curvature, (0, 64), mode="edge")
        self._xs, self._ys = self.x.tolist(), self.y.tolist()  # scalar look-ups are faster on lists
        self._headings, self._curvatures = self.heading.tolist(), self.curvature.tolist()

    # -- queries -----------------------------------------------------------------

    def pose(self, s: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World ``x, y, heading`` of road coordinates ``(s, d)`` (arrays)."""
        x, y, heading, _, _ = self.frame(s, d)
        return x, y, heading

    def frame(self, s: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, ...]:
        """World ``x, y, heading, cos(heading), sin(heading)`` of road coordinates ``(s, d)``."""
        heading = np.interp(s, self.s, self.heading)
        cos_h, sin_h = np.cos(heading), np.sin(heading)
        return np.interp(s, self.s, self.x) - sin_h * d, np.interp(s, self.s, self.y) + cos_h * d, heading, cos_h, sin_h

    def curvature_ahead(self, index: int, points: np.ndarray) -> np.ndarray:
        """Curvature ``points`` centreline points (< 64, of ``STEP`` metres) ahead of point ``index``."""
        return self._padded_curvature[index + points]

    def project(self, x: float, y: float, hint: int) -> tuple[int, float, float, float]:
        """``(index, s, d, heading)`` of ``(x, y)``: the nearest centreline point is found by
        walking from ``hint`` (the last answer), which the car never moves far from in a step."""
        xs, ys, last = self._xs, self._ys, len(self._xs) - 1
        index = min(max(hint, 0), last)
        best = (xs[index] - x) ** 2 + (ys[index] - y) ** 2
        for step in (1, -1):
            while 0 <= index + step <= last:
                distance = (xs[index + step] - x) ** 2 + (ys[index + step] - y) ** 2
                if distance >= best:
                    break
                index, best = index + step, distance
        heading = self._headings[index]
        c, s_ = math.cos(heading), math.sin(heading)
        rx, ry = x - xs[index], y - ys[index]
        along = rx * c + ry * s_
        lateral = -rx * s_ + ry * c
        return index, index * STEP + along, lateral, heading + self._curvatures[index] * along

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
