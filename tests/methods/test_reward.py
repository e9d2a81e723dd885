"""Bradley–Terry through ``fit`` against the numpy reference; reward models from preference rows."""
from __future__ import annotations

import numpy as np
import pytest

from tutelage import nn
from tutelage.errors import DataError
from tutelage.judging import judge_pairs
from tutelage.methods.preferences import Trajectory
from tutelage.methods.reward import pair_accuracy, save_reward_model, train_reward_model
from tutelage.nn import losses, reference
from tutelage.plugins import get_host
from tutelage.train import fit


def linear(n_in: int, seed: int = 0) -> nn.Model:
    return nn.Sequential([nn.Dense(1)], input_shape=(n_in,), seed=seed)


def numpy_pairs_loss(r, p, margin=None):
    """Reference: mean of p·BT(d') + (1 − p)·BT(−d') with d' = r₁ − r₂ − margin·(2p − 1), and d/dr."""
    d = r[:, 0] - r[:, 1] - (0 if margin is None else margin * (2 * p - 1))
    value = float(np.mean(p * np.logaddexp(0, -d) + (1 - p) * np.logaddexp(0, d)))
    _, d_first, _ = reference.bradley_terry(d, np.zeros_like(d))  # −σ(−d)/N
    _, d_second, _ = reference.bradley_terry(-d, np.zeros_like(d))  # −σ(d)/N
    grad = p * d_first - (1 - p) * d_second
    return value, np.stack([grad, -grad], axis=1)


@pytest.mark.parametrize("with_margin", [False, True])
def test_pairs_loss_with_ties_soft_labels_and_margins_matches_numpy(with_margin):
    rng = np.random.default_rng(0)
    r = rng.normal(size=(12, 2)).astype(np.float64)
    p = np.array([1, 0, 0.5, 0.9, 0.2, 1, 1, 0, 0.5, 0.7, 0.3, 1.0])
    margin = np.full(12, 0.4) if with_margin else None
    value, grad = losses.BradleyTerry().pairs(r, (p, margin, None))
    ref_value, ref_grad = numpy_pairs_loss(r, p, margin)
    assert value == pytest.approx(ref_value, rel=1e-5)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-4, atol=1e-7)


def test_per_step_rewards_are_summed_over_the_real_steps():
    rng = np.random.default_rng(1)
    steps = rng.normal(size=(5, 2, 4)).astype(np.float32)
    mask = np.ones((5, 2, 4), np.float32)
    mask[:, 1, 3] = 0.0
    p = np.ones(5)
    value, grad = losses.BradleyTerry().pairs(steps, (p, None, mask))
    ref_value, ref_grad = numpy_pairs_loss((steps * mask).sum(axis=2).astype(np.float64), p)
    assert value == pytest.approx(ref_value, rel=1e-5)
    np.testing.assert_allclose(grad, ref_grad[:, :, None] * mask, rtol=1e-4, atol=1e-7)


def test_bradley_terry_trains_through_fit_like_the_numpy_reference():
    """One full-batch SGD step of a linear reward model through ``fit`` equals the numpy computation."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(16, 2, 3)).astype(np.float32)
    model = linear(3)
    layer = model.layers[0]
    W, b = layer.params["weight"].astype(np.float64).copy(), layer.params["bias"].astype(np.float64).copy()
    r = X.astype(np.float64) @ W + b  # (16, 2, 1)
    _, d_chosen, d_rejected = reference.bradley_terry(r[:, 0, 0], r[:, 1, 0])
    dW = X[:, 0].T.astype(np.float64) @ d_chosen[:, None] + X[:, 1].T.astype(np.float64) @ d_rejected[:, None]
    fit(model, X, np.ones(16), loss="bradley_terry", optimizer="sgd", lr=0.5, epochs=1, batch_size=16, quiet=True)
    np.testing.assert_allclose(layer.params["weight"], W - 0.5 * dW, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(layer.params["bias"], b - 0.5 * (d_chosen.sum() + d_rejected.sum()), atol=1e-6)


def test_fit_names_wrong_pair_shapes():
    with pytest.raises(DataError, match="pairwise inputs"):
        fit(linear(3), np.zeros((4, 3)), np.ones(4), loss="bradley_terry", epochs=1, quiet=True)


def synthetic(n_pairs: int, seed: int) -> tuple[list[dict], dict[str, Trajectory], np.ndarray]:
    """Trajectories of 3-d observations and 1-d actions of varying length; the truth prefers a larger
    sum of ``obs[0] - action²`` (a per-step objective the reward model must find from labels alone)."""
    rng = np.random.default_rng(seed)
    weights = np.array([1.0, 0.0, 0.0, 0.0])
    trajectories, rows = {}, []
    for i in range(n_pairs):
        ids = []
        for k in range(2):
            t = int(rng.integers(5, 12))
            traj = Trajectory(f"{seed}-{i}/{k}", rng.normal(size=(t, 3)).astype(np.float32),
                              rng.normal(size=(t, 1)).astype(np.float32), horizon=12)
            trajectories[traj.id] = traj
            ids.append(traj.id)
        a, b = (trajectories[x].steps() for x in ids)
        better = (a @ weights - a[:, 3] ** 2).sum() > (b @ weights - b[:, 3] ** 2).sum()
        rows.append({"first_id": ids[0], "second_id": ids[1], "choice": "first" if better else "second",
                     "p_first": 1.0 if better else 0.0})
    rows[0] = {**rows[0], "choice": "abstain", "p_first": None}
    return rows, trajectories, weights


def test_reward_model_learns_a_per_step_objective_from_labels(tmp_path):
    rows, trajectories, _ = synthetic(300, 0)
    model = get_host().registry("model_types").get("mlp").build((4,), 1, hidden=(16,), seed=0)
    reward, report = train_reward_model(model, rows, trajectories, mode="step", epochs=40, lr=1e-2, seed=0)
    assert report["abstentions"] == 1 and report["labels"] == 299
    assert report["val_accuracy"] >= 0.85
    test_rows, test_trajectories, _ = synthetic(100, 1)
    correct, compared = pair_accuracy(reward, test_rows, test_trajectories)
    assert compared == 99 and correct / compared >= 0.85
    save_reward_model(reward, tmp_path / "reward.safetensors")
    judge = get_host().registry("judges").get("model")(path=str(tmp_path / "reward.safetensors"))
    pairs = [(test_trajectories[r["first_id"]], test_trajectories[r["second_id"]]) for r in test_rows[1:]]
    judged = judge_pairs(judge, [{}] * len(pairs), pairs)
    agree = sum(j.verdict.choice == r["choice"] for j, r in zip(judged, test_rows[1:]))
    assert agree == correct and all(not j.flipped for j in judged)


def test_trajectory_mode_and_too_few_labels():
    rows, trajectories, _ = synthetic(6, 2)
    model = get_host().registry("model_types").get("mlp").build((17,), 1, hidden=(4,), seed=0)
    reward, report = train_reward_model(model, rows, trajectories, mode="trajectory", epochs=2, validation=None)
    assert reward.score(list(trajectories.values())).shape == (12,)
    with pytest.raises(DataError, match="labelled pairs"):
        train_reward_model(model, rows[:2], trajectories, mode="trajectory")
