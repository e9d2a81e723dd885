"""Optimizers over the flat θ against their textbook formulas; clipping; schedules."""
from __future__ import annotations

import numpy as np
import pytest

from tutelage import nn
from tutelage.errors import UnknownNameError
from tutelage.nn import optim


class Flat:
    """Just θ and a gradient: what an optimizer sees of a model."""

    def __init__(self, theta, grad):
        self.theta = np.array(theta, np.float32)
        self.grad = np.array(grad, np.float32)


def adam_reference(theta, grads, lr, b1, b2, eps, wd, decoupled):
    theta = theta.astype(np.float64)
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        g = g.astype(np.float64)
        if decoupled:
            theta = theta * (1 - lr * wd)
        else:
            g = g + wd * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        theta = theta - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return theta


@pytest.mark.parametrize("cls, wd", [(optim.Adam, 0.0), (optim.Adam, 0.1), (optim.AdamW, 0.1)])
def test_adam_and_adamw_follow_the_formula(cls, wd):
    rng = np.random.default_rng(0)
    start = rng.standard_normal(50).astype(np.float32)
    grads = [rng.standard_normal(50).astype(np.float32) for _ in range(5)]
    flat = Flat(start, grads[0])
    opt = cls(lr=0.01, weight_decay=wd)
    for g in grads:
        flat.grad[:] = g
        opt.step(flat)
    expected = adam_reference(start, grads, 0.01, 0.9, 0.999, 1e-8, wd, cls is optim.AdamW)
    np.testing.assert_allclose(flat.theta, expected, rtol=1e-5, atol=1e-6)


def test_sgd_momentum_follows_the_formula():
    flat = Flat([1.0, -2.0], [0.5, 0.25])
    opt = optim.SGD(lr=0.1, momentum=0.9)
    opt.step(flat)
    opt.step(flat)
    v1 = np.array([0.5, 0.25])
    v2 = 0.9 * v1 + v1
    np.testing.assert_allclose(flat.theta, np.array([1.0, -2.0]) - 0.1 * v1 - 0.1 * v2, rtol=1e-6)


def test_clip_grad_norm_scales_to_the_limit():
    flat = Flat(np.zeros(2), [3.0, 4.0])
    assert optim.clip_grad_norm(flat, 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(flat.grad, [0.6, 0.8], rtol=1e-5)
    assert optim.clip_grad_norm(flat, 10.0) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(flat.grad, [0.6, 0.8], rtol=1e-5)


def test_schedules():
    assert optim.constant(0.1)(100) == 0.1
    assert optim.step_decay(1.0, every=10, gamma=0.5)(25) == 0.25
    cosine = optim.cosine(1.0, total_steps=100, min_lr=0.1)
    assert cosine(0) == pytest.approx(1.0) and cosine(50) == pytest.approx(0.55) and cosine(200) == pytest.approx(0.1)
    warm = optim.warmup(cosine, steps=10)
    assert warm(0) == pytest.approx(0.1) and warm(4) == pytest.approx(0.5 * cosine(4)) and warm(20) == cosine(20)


def test_optimizer_follows_a_schedule():
    flat = Flat([0.0], [1.0])
    opt = optim.SGD(lr=optim.step_decay(1.0, every=1, gamma=0.5))
    for _ in range(3):
        opt.step(flat)
    assert flat.theta[0] == pytest.approx(-(1 + 0.5 + 0.25))


def test_optimizers_by_name():
    assert isinstance(optim.get("adamw", 1e-2), optim.AdamW)
    assert optim.get("sgd", 0.5).lr == 0.5
    with pytest.raises(UnknownNameError, match="did you mean 'adam'"):
        optim.get("adma")


def test_optimizer_steps_a_real_model():
    model = nn.Sequential([nn.Dense(3)], input_shape=(2,), seed=0)
    before = model.theta.copy()
    model.forward(np.ones((4, 2), np.float32))
    model.backward(np.ones((4, 3), np.float32))
    optim.Adam(lr=0.1).step(model)
    np.testing.assert_allclose(model.theta, before - 0.1 * np.sign(model.grad), rtol=1e-4, atol=1e-6)
