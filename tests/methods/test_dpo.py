"""DPO of a Gaussian policy: the loss and its gradient against numpy, and training through the core."""
from __future__ import annotations

import numpy as np
import pytest

from tutelage.errors import DataError
from tutelage.methods.dpo import dpo, dpo_loss, log_likelihood
from tutelage.methods.preferences import Trajectory
from tutelage.plugins import get_host


def numpy_log_likelihood(mean, actions, sigma):
    return float(np.sum(-0.5 * ((actions - mean) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)))


def test_log_likelihood_from_the_core_matches_numpy():
    rng = np.random.default_rng(0)
    mean, actions = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    value, grad = log_likelihood(mean, actions, 0.4)
    assert value == pytest.approx(numpy_log_likelihood(mean, actions, 0.4), rel=1e-5)
    np.testing.assert_allclose(grad, (actions - mean) / 0.4**2, rtol=1e-4, atol=1e-5)


def test_dpo_loss_and_gradient_match_numpy_and_finite_differences():
    rng = np.random.default_rng(1)
    lengths, sigma, beta = [5, 3, 4, 6], 0.3, 0.2
    means = [rng.normal(size=(t, 2)) * 0.3 for t in lengths]
    actions = [m + rng.normal(size=m.shape) * sigma for m in means]
    reference = np.array([numpy_log_likelihood(m + 0.05, a, sigma) for m, a in zip(means, actions)])
    p = np.array([1.0, 0.3])
    value, grads, h = dpo_loss(means, actions, reference, p, beta=beta, sigma=sigma)
    ratio = np.array([numpy_log_likelihood(m, a, sigma) for m, a in zip(means, actions)]) - reference
    margin = beta * (ratio[0::2] - ratio[1::2])
    expected = np.mean(p * np.logaddexp(0, -margin) + (1 - p) * np.logaddexp(0, margin))
    assert value == pytest.approx(expected, rel=1e-5)
    np.testing.assert_allclose(h, margin, rtol=1e-4)
    eps = 1e-3
    for i, t, j in [(0, 0, 0), (1, 2, 1), (2, 3, 0), (3, 5, 1)]:
        up, down = [m.copy() for m in means], [m.copy() for m in means]
        up[i][t, j] += eps
        down[i][t, j] -= eps
        numeric = (dpo_loss(up, actions, reference, p, beta=beta, sigma=sigma)[0]
                   - dpo_loss(down, actions, reference, p, beta=beta, sigma=sigma)[0]) / (2 * eps)
        assert grads[i][t, j] == pytest.approx(numeric, rel=1e-2, abs=1e-5)


def test_dpo_moves_the_policy_towards_preferred_actions_and_keeps_the_reference():
    """States in [-1, 1]; the preferred trajectory's actions lie above the reference's mean, the other's below."""
    rng = np.random.default_rng(2)
    policy = get_host().registry("model_types").get("mlp").build((2,), 1, hidden=(8,), seed=0)
    before = policy.theta.copy()
    pairs = []
    for k in range(24):
        states = rng.uniform(-1, 1, size=(10, 2)).astype(np.float32)
        mean = policy.forward(states)
        up = Trajectory(f"{k}/0", states, (mean + 0.1).astype(np.float32))
        down = Trajectory(f"{k}/1", states, (mean - 0.1).astype(np.float32))
        pairs.append((up, down) if k % 2 else (down, up))
    labels = [1.0 if k % 2 else 0.0 for k in range(24)]
    improved, report = dpo(policy, pairs, labels, beta=0.1, sigma=0.2, epochs=20, lr=3e-3)
    np.testing.assert_array_equal(policy.theta, before)
    test = rng.uniform(-1, 1, size=(50, 2)).astype(np.float32)
    assert float(np.mean(improved.forward(test) - policy.forward(test))) > 0.03
    assert report["loss"][-1] < report["loss"][0] and report["margin_accuracy"] == 1.0
    with pytest.raises(DataError, match="one label"):
        dpo(policy, pairs, labels[:3])
