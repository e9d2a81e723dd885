"""The noisy policy: seeded per episode and salt, clipped, and as a critique's anchor a source of
counterfactual examples for a learned critic."""
from __future__ import annotations

import numpy as np
import pytest

import tutelage.worlds  # noqa: F401  (registers the worlds)
from tutelage.constitution import load_constitution, rule_kinds
from tutelage.errors import SpecError
from tutelage.methods.constitution import critic_dataset, critique_episodes
from tutelage.plugins import get_host
from tutelage.rollouts.perturb import NoisyPolicy
from tutelage.rollouts.plan import EpisodePlanner
from tutelage.sim.scenarios import sampler_for

REACH = "tutelage/Reach-v0"


def draws(policy, seed, n=50):
    policy.reset(seed=seed)
    return np.array([policy.act(None, {}) for _ in range(n)])


def test_noise_is_seeded_by_episode_and_salt_and_clipped():
    base = lambda observation: np.array([0.0, 0.9], np.float32)  # noqa: E731
    first, again = draws(NoisyPolicy(base, 0.3), 7), draws(NoisyPolicy(base, 0.3), 7)
    assert first.dtype == np.float32 and np.array_equal(first, again)
    assert not np.array_equal(first, draws(NoisyPolicy(base, 0.3), 8))
    assert not np.array_equal(first, draws(NoisyPolicy(base, 0.3, salt=1), 7))
    assert first.max() <= 1.0 and (first[:, 1] == 1.0).any()  # clipped into the action box
    assert 0.2 < first[:, 0].std() < 0.4
    assert np.array_equal(draws(NoisyPolicy(base, 0.0), 7), np.tile(base(None), (50, 1)))


@pytest.mark.parametrize("scale", [-0.1, float("nan"), [0.1, float("inf")]])
def test_a_bad_scale_is_one_clear_error(scale):
    with pytest.raises(SpecError, match="action noise: the scale must be finite and at least 0"):
        NoisyPolicy(lambda observation: observation, scale)


def test_as_anchor_the_critic_judges_the_noisy_actions_and_they_become_counterfactual_rows(tmp_path):
    host = get_host()
    constitution = load_constitution("arm", rule_kinds(host))
    expert = host.registry("teachers").get(host.registry("worlds").get(REACH).expert)()
    critic = host.registry("critics").get("rules")(constitution=constitution, expert=expert)
    plans = EpisodePlanner(sampler_for(REACH), split="held-out").plans(0, 2)
    records = critique_episodes(REACH, expert, critic, constitution, plans, tmp_path / "out", max_steps=10,
                                anchor=NoisyPolicy(expert, 0.5), anchor_id="noisy expert")
    taken, probed = records.matrix("action"), records.matrix("anchor_action")
    assert taken.shape == probed.shape and np.all(np.abs(probed) <= 1.0)
    assert np.abs(probed - taken).mean() > 0.1
    judged = records.column("anchor_principles")  # each noisy action judged on its own
    assert len(judged) == len(taken) and {name for names in judged for name in names} <= set(constitution.ids)
    X, Y = critic_dataset(records, history=False)
    assert len(X) == 2 * len(taken)  # every noisy action differs from the taken one: a row each
    assert np.array_equal(X[len(taken):, -probed.shape[1]:], probed)
