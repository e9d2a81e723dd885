"""fit never hands back a non-finite θ: checks after every step (the last included) and on validation."""
from __future__ import annotations

import numpy as np
import pytest

from tutelage import nn
from tutelage.errors import DataError, NumericalError
from tutelage.train import fit, last_good_path, save_last_good


def regression(n: int = 32, seed: int = 0):
    X = np.random.default_rng(seed).standard_normal((n, 4)).astype(np.float32)
    return X, X[:, :2] * 10


def model(seed: int = 1):
    return nn.Sequential([nn.Dense(8), nn.Tanh(), nn.Dense(2)], input_shape=(4,), seed=seed)


def test_the_only_step_making_theta_infinite_is_caught():
    """One epoch, one batch: before, the check ran only before a step, so this θ came back inf."""
    X, Y = regression()
    net = model()
    start = net.theta.copy()
    with pytest.raises(NumericalError, match="a parameter became non-finite after the step at epoch 0, batch 0") as info:
        fit(net, X, Y, optimizer="sgd", lr=1e38, epochs=1, batch_size=len(X), quiet=True)
    np.testing.assert_array_equal(net.theta, start)
    np.testing.assert_array_equal(info.value.theta, start)
    assert info.value.model is net


def test_infinite_validation_loss_stops_with_the_last_good_epoch():
    X, Y = regression(64)
    Yv = Y[:8].copy()
    Yv[0, 0] = 3e38  # finite targets whose squared error overflows
    net = model()
    with pytest.raises(NumericalError, match="the validation loss became inf at epoch 0") as info:
        fit(net, X, Y, epochs=3, validation=(X[:8], Yv), quiet=True)
    assert np.isfinite(net.theta).all() and np.isfinite(info.value.theta).all()


def test_early_stopping_with_validation_never_returns_nan():
    X, Y = regression(64)
    net = model()
    with pytest.raises(NumericalError):
        fit(net, X, Y, optimizer="sgd", lr=1e30, epochs=20, validation=0.25, early_stopping=2, quiet=True)
    assert np.isfinite(net.theta).all()


@pytest.mark.parametrize("lr", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_learning_rate_is_refused_before_training(lr):
    X, Y = regression()
    net = model()
    start = net.theta.copy()
    with pytest.raises(DataError, match="lr must be a finite number"):
        fit(net, X, Y, lr=lr, epochs=1, quiet=True)
    np.testing.assert_array_equal(net.theta, start)


def test_save_last_good_writes_beside_the_intended_file(tmp_path):
    X, Y = regression()
    net = model()
    out = tmp_path / "m.safetensors"
    with pytest.raises(NumericalError) as info:
        fit(net, X, Y, optimizer="sgd", lr=1e30, epochs=5, batch_size=4, quiet=True)
    error = save_last_good(info.value, out, model_type="mlp", lineage={"method": "fit"})
    target = last_good_path(out)
    assert target.name == "m.safetensors.last-good.safetensors" and str(target) in str(error)
    assert not out.exists()
    saved = nn.load(target)
    np.testing.assert_array_equal(saved.theta, info.value.theta)
    assert "stopped" in saved.info["metadata"]


def test_a_healthy_fit_is_unchanged_by_the_checks():
    X, Y = regression(64)
    first, second = model(), model()
    fit(first, X, Y, epochs=3, validation=0.25, early_stopping=5, seed=2, quiet=True)
    fit(second, X, Y, epochs=3, validation=0.25, early_stopping=5, seed=2, quiet=True)
    np.testing.assert_array_equal(first.theta, second.theta)
    assert np.isfinite(first.theta).all()
