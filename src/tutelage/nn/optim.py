"""Optimizers over the flat θ and its gradient, global-norm clipping and learning-rate schedules.

``lr`` may be a number or a schedule: a callable from the step index (0 for
the first step) to a learning rate.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tutelage._core import optim as _k
from tutelage.errors import UnknownNameError

Schedule = Callable[[int], float]


class Optimizer:
    """Base class: ``step(model)`` applies one update from ``model.grad`` to ``model.theta``."""

    name = ""

    def __init__(self, lr: float | Schedule):
        self.lr = lr
        self.steps = 0
        self._state: dict[str, np.ndarray] = {}

    def current_lr(self) -> float:
        return float(self.lr(self.steps) if callable(self.lr) else self.lr)

    def _buffer(self, name: str, size: int) -> np.ndarray:
        buf = self._state.get(name)
        if buf is None or buf.size != size:
            buf = self._state[name] = np.zeros(size, dtype=np.float32)
        return buf

    def step(self, model: Any) -> None:
        lr = self.current_lr()
        self.steps += 1
        self._update(model.theta, model.grad, lr)

    def _update(self, theta: np.ndarray, grad: np.ndarray, lr: float) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with momentum and L2 weight decay."""

    name = "sgd"

    def __init__(self, lr: float | Schedule = 1e-2, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(lr)
        self.momentum, self.weight_decay = momentum, weight_decay

    def _update(self, theta, grad, lr):
        _k.sgd_step(theta, grad, self._buffer("velocity", theta.size), lr, self.momentum, self.weight_decay)


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction; ``weight_decay`` adds L2 to the gradient."""

    name = "adam"
    decoupled = False

    def __init__(self, lr: float | Schedule = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(lr)
        self.betas, self.eps, self.weight_decay = tuple(betas), eps, weight_decay

    def _update(self, theta, grad, lr):
        m = self._buffer("m", theta.size)
        v = self._buffer("v", theta.size)
        _k.adam_step(theta, grad, m, v, lr, self.betas[0], self.betas[1], self.eps, self.weight_decay,
                     self.decoupled, self.steps)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter)."""

    name = "adamw"
    decoupled = True

    def __init__(self, lr: float | Schedule = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2):
        super().__init__(lr, betas, eps, weight_decay)


OPTIMIZERS: dict[str, type[Optimizer]] = {cls.name: cls for cls in (SGD, Adam, AdamW)}


def get(optimizer: str | Optimizer, lr: float | Schedule | None = None) -> Optimizer:
    """An optimizer from a name (``"adam"``, with ``lr``) or the instance itself."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if optimizer not in OPTIMIZERS:
        raise UnknownNameError("optimizer", str(optimizer), OPTIMIZERS)
    return OPTIMIZERS[optimizer]() if lr is None else OPTIMIZERS[optimizer](lr)


def clip_grad_norm(model: Any, max_norm: float) -> float:
    """Scale ``model.grad`` so its global norm is at most ``max_norm``; returns the norm before clipping."""
    norm = _k.global_norm(model.grad)
    if math.isfinite(norm) and norm > max_norm:
        _k.scale(model.grad, max_norm / (norm + 1e-12))
    return norm


def grad_norm(model: Any) -> float:
    """The global norm of ``model.grad`` (not finite when any entry is NaN or inf)."""
    return _k.global_norm(model.grad)


# -- schedules -----------------------------------------------------------------------------


def constant(lr: float) -> Schedule:
    return lambda step: lr


def step_decay(lr: float, every: int, gamma: float = 0.1) -> Schedule:
    """``lr · gamma^(step // every)``."""
    return lambda step: lr * gamma ** (step // every)


def cosine(lr: float, total_steps: int, min_lr: float = 0.0) -> Schedule:
    """Cosine annealing from ``lr`` to ``min_lr`` over ``total_steps``, then ``min_lr``."""
    def schedule(step: int) -> float:
        t = min(step, total_steps) / max(total_steps, 1)
        return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * t))
    return schedule


def warmup(schedule: float | Schedule, steps: int) -> Schedule:
    """Linear warmup from 0 over ``steps``, then ``schedule`` (a number or a schedule)."""
    after = schedule if callable(schedule) else constant(schedule)
    return lambda step: after(step) * min(1.0, (step + 1) / steps) if step < steps else after(step)
