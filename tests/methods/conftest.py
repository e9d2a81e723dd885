"""Shared pieces: a scripted CartPole expert and tiny students (fast, no PyBullet)."""
import numpy as np
import pytest

from tutelage import nn


def cartpole_expert(observation, info):
    """Push toward the side the pole falls to: balances CartPole for 500 steps."""
    return int(observation[2] + 0.5 * observation[3] > 0)


@pytest.fixture
def expert():
    return cartpole_expert


@pytest.fixture
def make_student():
    def make(inputs=4, outputs=2, hidden=16, seed=0):
        return nn.Sequential([nn.Dense(hidden), nn.Tanh(), nn.Dense(outputs)], input_shape=(inputs,), seed=seed)
    return make


@pytest.fixture
def digits():
    """scikit-learn's digits, scaled to [0, 1], split 75/25 with a fixed seed."""
    sklearn = pytest.importorskip("sklearn.datasets")
    data = sklearn.load_digits()
    X = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(X))
    cut = int(0.75 * len(X))
    return X[order[:cut]], y[order[:cut]], X[order[cut:]], y[order[cut:]]
