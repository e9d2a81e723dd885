"""Standardized training folded into the first layer: the model still reads raw inputs."""
import numpy as np

from tutelage import nn
from tutelage.methods.bc import train_supervised
from tutelage.methods.standardize import fit_standardized


def scaled_inputs():
    rng = np.random.default_rng(0)
    return (rng.normal(size=(500, 3)) * [100.0, 0.01, 1.0] + [5.0, 0.0, -3.0]).astype(np.float32)


def test_a_warm_start_folds_in_and_out_keeping_the_function():
    model = nn.Sequential([nn.Dense(8), nn.Tanh(), nn.Dense(2)], input_shape=(3,), seed=0)
    X = scaled_inputs()
    before = model(X)
    seen = {}

    def train(inputs, transform):
        seen["mean"], seen["std"] = inputs.mean(0), inputs.std(0)
        np.testing.assert_allclose(model(inputs), before, rtol=1e-4, atol=1e-4)  # same function, new coordinates
        return "trained"

    assert fit_standardized(model, X, train, warm_start=True) == "trained"
    np.testing.assert_allclose(seen["mean"], 0, atol=1e-5)
    np.testing.assert_allclose(seen["std"], 1, atol=1e-4)
    np.testing.assert_allclose(model(X), before, rtol=1e-4, atol=1e-4)


def test_standardized_training_learns_badly_scaled_features():
    X = scaled_inputs()
    Y = np.stack([X[:, 1] * 100.0, np.tanh(X[:, 0] / 100.0)], axis=1).astype(np.float32)
    errors = {}
    for standardize in (False, True):
        model = nn.Sequential([nn.Dense(16), nn.Tanh(), nn.Dense(2)], input_shape=(3,), seed=0)
        train_supervised(model, X, Y, epochs=40, lr=3e-3, standardize=standardize)
        errors[standardize] = float(np.mean((model(X) - Y) ** 2))
    assert errors[True] < 0.5 * errors[False]
