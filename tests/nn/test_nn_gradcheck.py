"""Finite-difference checks of the numpy reference in float64: every layer and every loss."""
from __future__ import annotations

import numpy as np
import pytest

from tutelage import nn
from tutelage.nn import reference

from nn_helpers import random_inputs

EPS = 1e-6

MODELS = {
    "dense": ([nn.Dense(4)], (2, 3)),
    "relu": ([nn.ReLU()], (5,)),
    "tanh": ([nn.Tanh()], (5,)),
    "sigmoid": ([nn.Sigmoid()], (5,)),
    "gelu": ([nn.GELU()], (5,)),
    "softmax": ([nn.Softmax()], (2, 4)),
    "log_softmax": ([nn.LogSoftmax()], (4,)),
    "layer_norm": ([nn.LayerNorm()], (2, 5)),
    "embedding": ([nn.Embedding(4, 3)], (3,)),
    "conv2d": ([nn.Conv2d(2, kernel=3, stride=2, padding=1)], (2, 5, 4)),
    "maxpool2d": ([nn.MaxPool2d(2)], (2, 5, 4)),
    "flatten": ([nn.Conv2d(2, kernel=2), nn.Flatten(), nn.Dense(2)], (1, 3, 3)),
    "dropout": ([nn.Dropout(0.5), nn.Dense(2)], (3,)),
    "planes": ([nn.Planes([1, 2, 3], scale=0.5), nn.Conv2d(2, kernel=2), nn.Flatten(), nn.Dense(2)], (8,)),
}


def numeric_gradient(f, array: np.ndarray) -> np.ndarray:
    grad = np.zeros_like(array)
    for i in np.ndindex(array.shape):
        saved = array[i]
        array[i] = saved + EPS
        up = f()
        array[i] = saved - EPS
        down = f()
        array[i] = saved
        grad[i] = (up - down) / (2 * EPS)
    return grad


def test_every_layer_type_is_checked():
    assert set(MODELS) == set(nn.LAYER_TYPES)


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_layer_gradients_match_finite_differences(kind):
    rng = np.random.default_rng(0)
    layers, shape = MODELS[kind]
    model = nn.Model(layers, shape, seed=0)
    X = random_inputs(model, 2, rng).astype(np.float64)
    params = reference.model_params(model)
    for p in params:
        for name in p:
            p[name][...] = rng.standard_normal(p[name].shape)
    Y, tape = reference.model_forward(model, X, params)
    R = rng.standard_normal(Y.shape)

    def objective() -> float:
        return float((reference.model_forward(model, X, params)[0] * R).sum())

    dX, grad = reference.model_backward(model, tape, R, params)
    numeric = np.concatenate([numeric_gradient(objective, p[name]).reshape(-1)
                              for p in params for name in p] or [np.zeros(0)])
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)
    if kind != "embedding":  # ids are not differentiable
        np.testing.assert_allclose(dX, numeric_gradient(objective, X), rtol=1e-5, atol=1e-7)


def _loss_cases(rng):
    logits = rng.standard_normal((4, 3))
    labels = rng.integers(0, 3, 4)
    soft = rng.dirichlet(np.ones(3), 4)
    teacher = rng.standard_normal((4, 3))
    return {
        "mse": (lambda p: reference.mse(p, soft), logits),
        "cross_entropy_labels": (lambda p: reference.cross_entropy(p, labels), logits),
        "cross_entropy_soft": (lambda p: reference.cross_entropy(p, soft), logits),
        "distillation": (lambda p: reference.distillation(p, teacher, labels, 2.5, 0.7), logits),
        "gaussian_nll": (lambda p: reference.gaussian_nll(p, soft), rng.standard_normal((4, 6))),
    }


@pytest.mark.parametrize("name", sorted(_loss_cases(np.random.default_rng(0))))
def test_loss_gradients_match_finite_differences(name):
    loss, pred = _loss_cases(np.random.default_rng(1))[name]
    _, grad = loss(pred)
    np.testing.assert_allclose(grad, numeric_gradient(lambda: loss(pred)[0], pred), rtol=1e-5, atol=1e-8)


def test_bradley_terry_gradients_match_finite_differences():
    rng = np.random.default_rng(2)
    chosen, rejected = rng.standard_normal(5), rng.standard_normal(5)
    _, d_chosen, d_rejected = reference.bradley_terry(chosen, rejected)
    f = lambda: reference.bradley_terry(chosen, rejected)[0]  # noqa: E731
    np.testing.assert_allclose(d_chosen, numeric_gradient(f, chosen), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(d_rejected, numeric_gradient(f, rejected), rtol=1e-5, atol=1e-8)
