"""Sensors: a planar lidar from ``rayTestBatch``, a camera from the tiny renderer, and a
perception model that turns ground-truth estimates into what a vehicle's own estimators report."""
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


class Perception:
    """Noisy, biased, drifting estimates of ``channels`` ground-truth quantities, with dropouts.

    Per channel (arrays of ``channels`` values, given to :meth:`reset`):
    ``noise`` (std of white noise), ``bias`` (std of a constant offset drawn
    per episode), ``drift`` (stationary std of a slowly wandering offset, an
    Ornstein–Uhlenbeck process with time constant ``tau`` steps) and
    ``dropout`` (probability per reading that the estimator reports its last
    output again). ``blind_rate`` is the probability per reading that a
    ``blind_steps``-long blackout starts (a lightning flash), during which
    the ``blind`` channels hold their last output too. Everything is drawn
    from the generator given to :meth:`reset`, in blocks of ``BLOCK``
    readings, so an episode replays exactly from its seed.
    """

    BLOCK = 64

    def __init__(self, channels: int, tau: float = 100.0):
        self.channels, self.decay = int(channels), math.exp(-1.0 / tau)
        self.blinded = 0
        self.reset(None)

    def reset(
        self,
        rng: np.random.Generator | None,
        noise: np.ndarray | float = 0.0,
        bias: np.ndarray | float = 0.0,
        drift: np.ndarray | float = 0.0,
        dropout: np.ndarray | float = 0.0,
        blind: np.ndarray | None = None,
        blind_rate: float = 0.0,
        blind_steps: int = 5,
    ) -> None:
        """Start an episode (perfect readings when ``rng`` is None)."""
        shape = (self.channels,)
        self._rng = rng
        self._noise, self._drift, self._dropout = (np.broadcast_to(np.asarray(v, float), shape).copy() for v in (noise, drift, dropout))
        self._blind = np.zeros(shape, bool) if blind is None else np.asarray(blind, bool)
        self._blind_rate, self._blind_steps = float(blind_rate), int(blind_steps)
        bias = np.broadcast_to(np.asarray(bias, float), shape)
        self._offset = np.zeros(shape) if rng is None else rng.standard_normal(self.channels) * bias
        self._wander = np.zeros(shape) if rng is None else rng.standard_normal(self.channels) * self._drift
        self._kick = self._drift * math.sqrt(1.0 - self.decay**2)
        self._last: np.ndarray | None = None
        self._row = self.BLOCK
        self.blinded = 0

    def read(self, truth: np.ndarray) -> np.ndarray:
        """The estimate of ``truth`` (channels,) now: truth + offsets + noise, or held readings."""
        if self._rng is None:
            return np.array(truth, dtype=float)
        if self._row == self.BLOCK:
            self._gauss = self._rng.standard_normal((self.BLOCK, 2, self.channels))
            self._uniform = self._rng.random((self.BLOCK, self.channels + 1))
            self._row = 0
        gauss, uniform = self._gauss[self._row], self._uniform[self._row]
        self._row += 1
        self._wander = self.decay * self._wander + self._kick * gauss[1]
        reading = truth + self._offset + self._wander + self._noise * gauss[0]
        if self.blinded:
            self.blinded -= 1
        elif uniform[-1] < self._blind_rate:
            self.blinded = self._blind_steps
        if self._last is not None:
            hold = uniform[:-1] < self._dropout
            if self.blinded:
                hold |= self._blind
            reading = np.where(hold, self._last, reading)
        self._last = reading
        return reading


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


class ObjectTracker:
    """What a perception stack's object tracker reports: the ``slots`` nearest road users, nearest first.

    :meth:`read` takes the indices of the objects present now (out of the
    ``objects`` given to :meth:`reset`), their true (ahead, lateral) position
    and (along, lateral) velocity relative to the vehicle, and whether each is
    a vulnerable road user (a pedestrian or a cyclist, as the tracker's
    classifier labels it); it returns ``slots`` rows of :data:`FIELDS`:
    ``present`` (1, or 0 for an empty slot, all zeros), the measured position
    and velocity, and the class. After :meth:`reset` with a generator, each
    object's estimate is off by an error that wanders as a filtered track's
    does (an Ornstein–Uhlenbeck process with time constant ``tau`` readings
    and stationary std ``position_noise`` m and ``velocity_noise`` m/s); a
    missed detection (probability ``dropout`` per reading, and every reading
    while ``blind``) coasts on the object's last estimate, and an object not
    yet detected is not reported. Only objects measured between ``behind`` m
    behind and ``range`` m ahead are listed, ordered by how far ahead they
    are measured to be.
    """

    FIELDS = ("present", "ahead", "lateral", "speed_along", "speed_lateral", "vulnerable")

    def __init__(self, slots: int = 6, range: float = 20.0, behind: float = 1.0, tau: float = 25.0):
        if slots < 1:
            raise ValueError(f"the tracker needs at least one slot, got {slots}")
        self.slots, self.range, self.behind, self.decay = int(slots), float(range), float(behind), math.exp(-1.0 / tau)
        self.reset(None, 0)

    def reset(self, rng: np.random.Generator | None, objects: int, position_noise: float = 0.0, velocity_noise: float = 0.0,
              dropout: float = 0.0, range: float | None = None) -> None:
        """Start an episode with ``objects`` objects (exact readings when ``rng`` is None); ``range`` (m)
        overrides the default one."""
        self._rng, self._dropout = rng, float(dropout)
        self._noise = np.array([position_noise, position_noise, velocity_noise, velocity_noise], dtype=float)
        self.reach = self.range if range is None else float(range)
        self._error = np.zeros((objects, 4)) if rng is None else rng.standard_normal((objects, 4)) * self._noise
        self._estimate = np.full((objects, 4), np.nan)  # the last estimate of each object (nan: never detected)

    def read(self, ids: np.ndarray, ahead: np.ndarray, lateral: np.ndarray, speed_along: np.ndarray,
             speed_lateral: np.ndarray, vulnerable: np.ndarray, blind: bool = False) -> np.ndarray:
        """The tracker's list now, flattened to (``slots`` × len(:data:`FIELDS`),) float32 (see the class)."""
        reading = np.zeros((self.slots, len(self.FIELDS)), dtype=np.float32)
        if not len(ids):
            return reading.ravel()
        detected = np.full(len(ids), not blind)
        if self._rng is not None:
            kick = self._rng.standard_normal((len(ids), 4)) * (self._noise * math.sqrt(1.0 - self.decay**2))
            self._error[ids] = self.decay * self._error[ids] + kick
            detected &= self._rng.random(len(ids)) >= self._dropout
        truth = np.stack([ahead, lateral, speed_along, speed_lateral], axis=1)
        estimate = np.where(detected[:, None], truth + self._error[ids], self._estimate[ids])
        self._estimate[ids] = estimate
        known = ~np.isnan(estimate[:, 0])
        known[known] = (estimate[known, 0] >= -self.behind) & (estimate[known, 0] <= self.reach)
        order = np.flatnonzero(known)[np.argsort(estimate[known, 0], kind="stable")][: self.slots]
        reading[: len(order), 0] = 1.0
        reading[: len(order), 1:5] = estimate[order]
        reading[: len(order), 5] = np.asarray(vulnerable, dtype=np.float32)[order]
        return reading.ravel()
