"""Policy improvement: what is kept, a frozen reference, divergence, paired win rates, the over-optimization curve."""
from __future__ import annotations

import numpy as np
import pytest

from tutelage.errors import SpecError
from tutelage.methods.improve import divergence, extreme_pairs, improve, keep, overoptimization, win_rate
from tutelage.plugins import get_host
from tutelage.rollouts.plan import EpisodePlanner


class Length:
    """A stand-in reward model for CartPole: longer is better."""

    def score(self, trajectories):
        return np.array([t.length for t in trajectories], dtype=float)


def policy(seed=0):
    return get_host().registry("model_types").get("mlp").build((4,), 1, hidden=(8,), seed=seed)


def test_keep_best_and_reward_weighted():
    rng = np.random.default_rng(0)
    scores = np.array([0.0, 3.0, 1.0, 2.0])
    assert keep(scores, "best_of_n", rng).tolist() == [1]
    sharp = np.concatenate([keep(scores, "rwr", rng, beta=0.05) for _ in range(50)])
    flat = np.concatenate([keep(scores, "rwr", rng, beta=100.0) for _ in range(50)])
    assert np.mean(sharp == 1) > 0.95 and 0.15 < np.mean(flat == 1) < 0.35
    with pytest.raises(SpecError, match="best_of_n"):
        keep(scores, "ppo", rng)


def test_dpo_pairs_are_each_scenarios_best_against_its_worst():
    groups = [["a", "b", "c"], ["d", "e", "f"], ["g", "h", "i"]]
    pairs, labels = extreme_pairs(groups, np.array([[0.0, 2.0, 1.0], [5.0, 5.0, 5.0], [3.0, -1.0, 0.0]]))
    assert pairs == [("b", "a"), ("g", "h")] and labels.tolist() == [1.0, 1.0]  # no pair where all samples tie


@pytest.mark.parametrize("method", ["best_of_n", "rwr", "dpo"])
def test_improve_fine_tunes_a_copy_and_reports_divergence(method):
    start = policy()
    before = start.theta.copy()
    plans = EpisodePlanner().plans(0, 4)
    improved, rounds = improve(start, "CartPole-v1", plans, Length(), method=method, n=3, sigma=0.5, rounds=2,
                               epochs=3, max_steps=40)
    np.testing.assert_array_equal(start.theta, before)  # the reference stays frozen
    assert len(rounds) == 2 and all(r["scenarios"] == 2 and r["samples"] == 6 for r in rounds)
    assert rounds[-1]["kl"] > 0 and rounds[-1]["action_rms"] > 0
    states = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    assert divergence(start, start, states, 0.5) == {"kl": 0.0, "action_rms": 0.0}
    assert divergence(improved, start, states, 0.5)["kl"] > 0


def test_win_rate_of_a_policy_against_itself_is_all_ties():
    start = policy()
    result = win_rate("CartPole-v1", start, start, EpisodePlanner().plans(1, 5), lambda t: t.length, max_steps=30)
    assert (result["wins"], result["losses"], result["ties"], result["win_rate"]) == (0, 0, 5, 0.5)
    assert result["mean_gain"] == 0.0 and 1 <= result["start_return"] <= 30  # the start's mean oracle value


def test_overoptimization_curve_is_nested_best_of_n():
    curve = overoptimization("CartPole-v1", policy(), EpisodePlanner().plans(2, 2), Length(), lambda t: -t.length,
                             ns=(1, 2, 4), sigma=0.5, max_steps=40)
    assert [p["n"] for p in curve] == [1, 2, 4]
    assert curve[0]["reward"] <= curve[1]["reward"] <= curve[2]["reward"]  # the pick's own score never falls
    assert all(p["oracle"] == -p["reward"] for p in curve)  # here the oracle is exactly the reward's opposite
