"""Every world in Gymnasium's vector environments, as RL libraries run them."""
from __future__ import annotations

import gymnasium
import numpy as np
import pytest

import tutelage.worlds  # noqa: F401  (registers the worlds with Gymnasium)
from tutelage.sim.world import Ragged

pytest.importorskip("pybullet")
WORLDS = ["tutelage/Driving-v0", "tutelage/Reach-v0", "tutelage/Push-v0"]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("world", WORLDS)
def test_two_copies_step_100_times_with_random_actions(world, mode):
    # the ids carry the registering module, so async workers need no earlier import (default start method)
    envs = gymnasium.make_vec(f"tutelage.worlds:{world}", num_envs=2, vectorization_mode=mode)
    try:
        observations, infos = envs.reset(seed=[3, 4])
        envs.action_space.seed(0)
        for _ in range(100):
            observations, rewards, terminated, truncated, infos = envs.step(envs.action_space.sample())
        assert observations.shape[0] == 2 and np.all(np.isfinite(rewards))
        assert infos["is_success"].shape == (2,)
    finally:
        envs.close()


def test_ragged_info_arrays_behave_like_arrays():
    r = Ragged(np.arange(6.0).reshape(3, 2))
    assert len(r) == 3 and r[1, 1] == 3.0 and np.asarray(r).shape == (3, 2)
    np.testing.assert_allclose(np.linalg.norm(r - np.ones(2), axis=1), np.linalg.norm(np.asarray(r) - 1, axis=1))
    assert (2 * r).shape == (3, 2) and float(np.min(r)) == 0.0


def test_two_ragged_arrays_compare_as_wholes_and_arrays_elementwise():
    a, b = Ragged([1.0, np.inf, np.nan]), Ragged([1.0, np.inf, np.nan])
    assert (a == b) is True and (a != Ragged([1.0])) is True
    np.testing.assert_array_equal(a == 1.0, [True, False, False])
