"""The GPT on the core against its float64 reference: logits, θ gradient by finite differences, KV-cache decoding."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tutelage.errors import DataError
from tutelage.nn import attention, reference
from tutelage.nn.optim import Adam
from tutelage.nn.transformer import GPT, GPTConfig, _views, sample_tokens


def _perturbed(config: GPTConfig, seed: int) -> GPT:
    model = GPT(config, seed=seed)
    model.theta += np.random.default_rng(seed).normal(0, 0.2, model.theta.size).astype(np.float32)  # off the init
    return model


@settings(max_examples=15, deadline=None)
@given(layers=st.integers(1, 2), heads=st.integers(1, 2), hd=st.integers(1, 4), time=st.integers(1, 6),
       batch=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_logits_match_reference(layers, heads, hd, time, batch, seed):
    config = GPTConfig(vocab=7, context=6, layers=layers, width=heads * hd, heads=heads)
    model = _perturbed(config, seed)
    ids = np.random.default_rng(seed).integers(0, 7, (batch, time))
    params = _views(model.theta.astype(np.float64), config)
    np.testing.assert_allclose(model.forward(ids), reference.gpt_forward(config, params, ids), rtol=1e-3, atol=1e-4)


def test_theta_gradient_matches_finite_differences_of_the_reference():
    config = GPTConfig(vocab=6, context=5, layers=2, width=8, heads=2)
    model = _perturbed(config, 3)
    rng = np.random.default_rng(3)
    ids, targets = rng.integers(0, 6, (2, 5)), rng.integers(0, 6, (2, 5))
    _, dlogits = attention.sequence_cross_entropy(model.forward(ids), targets)
    model.zero_grad()
    model.backward(dlogits)
    theta = model.theta.astype(np.float64)

    def loss(th: np.ndarray) -> float:
        return reference.sequence_cross_entropy(reference.gpt_forward(config, _views(th, config), ids), targets)[0]

    picks = rng.choice(theta.size, 120, replace=False)
    numeric = []
    for i in picks:
        up, down = theta.copy(), theta.copy()
        up[i] += 1e-5
        down[i] -= 1e-5
        numeric.append((loss(up) - loss(down)) / 2e-5)
    np.testing.assert_allclose(model.grad[picks], numeric, rtol=2e-3, atol=2e-5)


def test_kv_cache_decoding_equals_the_batch_forward():
    config = GPTConfig(vocab=9, context=8, layers=2, width=12, heads=3)
    model = _perturbed(config, 1)
    ids = np.random.default_rng(1).integers(0, 9, (1, 8))
    full = model.forward(ids)[0]
    decoder = model.sampler()
    for t in range(8):
        np.testing.assert_allclose(decoder.push(int(ids[0, t])), full[t], rtol=1e-4, atol=1e-5)
    with pytest.raises(DataError, match="context holds 8"):
        decoder.push(0)


def test_training_learns_a_pattern_and_sampling_follows_it():
    config = GPTConfig(vocab=4, context=8, layers=1, width=16, heads=2)
    model = GPT(config, seed=0)
    seq = np.tile(np.arange(4), 3)  # 0 1 2 3 0 1 2 3 …
    ids, targets = np.stack([seq[i:i + 8] for i in range(4)]), np.stack([seq[i + 1:i + 9] for i in range(4)])
    optimizer = Adam(3e-2)
    for _ in range(80):
        model.zero_grad()
        value, grad = attention.sequence_cross_entropy(model.forward(ids), targets)
        model.backward(grad)
        optimizer.step(model)
    assert value < 0.1
    assert sample_tokens(model, [0, 1], 20, temperature=0) == [2, 3, 0, 1] * 5  # past the context: slides


def test_bad_config_and_ids_are_named():
    with pytest.raises(DataError, match="divisible by heads"):
        GPTConfig(vocab=5, width=10, heads=3)
    with pytest.raises(DataError, match="layers must be"):
        GPTConfig(vocab=5, layers=0)
    model = GPT(GPTConfig(vocab=5, context=4, layers=1, width=4, heads=1))
    with pytest.raises(DataError, match="integers in"):
        model.forward(np.array([[1, 5]]))
    with pytest.raises(DataError, match="1 ≤ time ≤ 4"):
        model.forward(np.zeros((1, 5), int))
