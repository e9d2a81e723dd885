"""Causal attention, its KV-cache step and the token losses against the float64 reference and finite differences."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tutelage.errors import DataError
from tutelage.nn import attention, reference

from test_nn_gradcheck import numeric_gradient

TOL = dict(rtol=2e-4, atol=2e-5)


@settings(max_examples=30, deadline=None)
@given(batch=st.integers(1, 3), time=st.integers(1, 9), heads=st.integers(1, 3), hd=st.integers(1, 5),
       seed=st.integers(0, 2**16))
def test_attention_matches_reference(batch, time, heads, hd, seed):
    rng = np.random.default_rng(seed)
    qkv = rng.standard_normal((batch, time, 3 * heads * hd)).astype(np.float32)
    out, probs = attention.causal_attention(qkv, heads)
    ref_out, ref_probs = reference.causal_attention(qkv.astype(np.float64), heads)
    np.testing.assert_allclose(out, ref_out, **TOL)
    np.testing.assert_allclose(probs, ref_probs, **TOL)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dqkv = attention.causal_attention_backward(qkv, probs, dout, heads)
    ref = reference.causal_attention_backward(qkv.astype(np.float64), ref_probs, dout.astype(np.float64), heads)
    np.testing.assert_allclose(dqkv, ref, rtol=1e-3, atol=1e-4)


@settings(max_examples=20, deadline=None)
@given(time=st.integers(1, 8), heads=st.integers(1, 3), hd=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_kv_cache_steps_equal_the_full_pass(time, heads, hd, seed):
    rng = np.random.default_rng(seed)
    d = heads * hd
    qkv = rng.standard_normal((1, time, 3 * d)).astype(np.float32)
    full, _ = attention.causal_attention(qkv, heads)
    cache, out = attention.KVCache(time, d), np.empty(d, np.float32)
    for t in range(time):
        np.testing.assert_allclose(cache.step(qkv[0, t].copy(), heads, out), full[0, t], **TOL)
    with pytest.raises(DataError, match="KV cache"):
        cache.step(qkv[0, 0].copy(), heads, out)


def test_future_positions_do_not_change_the_past():
    rng = np.random.default_rng(1)
    qkv = rng.standard_normal((2, 6, 12)).astype(np.float32)
    out, _ = attention.causal_attention(qkv, 2)
    changed = qkv.copy()
    changed[:, 4:] += 5.0
    np.testing.assert_array_equal(attention.causal_attention(changed, 2)[0][:, :4], out[:, :4])


def test_reference_gradients_match_finite_differences():
    rng = np.random.default_rng(2)
    qkv, R = rng.standard_normal((2, 4, 12)), rng.standard_normal((2, 4, 4))
    _, probs = reference.causal_attention(qkv, 2)
    grad = reference.causal_attention_backward(qkv, probs, R, 2)
    numeric = numeric_gradient(lambda: float((reference.causal_attention(qkv, 2)[0] * R).sum()), qkv)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)
    logits, ids = rng.standard_normal((2, 3, 5)), rng.integers(0, 5, (2, 3))
    _, grad = reference.sequence_cross_entropy(logits, ids)
    numeric = numeric_gradient(lambda: reference.sequence_cross_entropy(logits, ids)[0], logits)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)
    probs = rng.dirichlet(np.ones(5), (2, 3))
    _, grad = reference.soft_cross_entropy(logits, probs, 2.0)
    numeric = numeric_gradient(lambda: reference.soft_cross_entropy(logits, probs, 2.0)[0], logits)
    np.testing.assert_allclose(grad, 4.0 * numeric, rtol=1e-5, atol=1e-8)  # gradient carries T²


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 3), time=st.integers(1, 7), vocab=st.integers(2, 30), t=st.floats(0.5, 4.0),
       seed=st.integers(0, 2**16))
def test_token_losses_match_reference(batch, time, vocab, t, seed):
    rng = np.random.default_rng(seed)
    logits = (3 * rng.standard_normal((batch, time, vocab))).astype(np.float32)
    ids = rng.integers(0, vocab, (batch, time))
    value, grad = attention.sequence_cross_entropy(logits, ids)
    ref_value, ref_grad = reference.sequence_cross_entropy(logits.astype(np.float64), ids)
    assert value == pytest.approx(ref_value, rel=1e-5, abs=1e-5)
    np.testing.assert_allclose(grad, ref_grad, **TOL)
    probs = rng.dirichlet(np.ones(vocab), (batch, time)).astype(np.float32)
    value, grad = attention.soft_cross_entropy(logits, probs, t)
    ref_value, ref_grad = reference.soft_cross_entropy(logits.astype(np.float64), probs.astype(np.float64), t)
    assert value == pytest.approx(ref_value, rel=1e-4, abs=1e-4)
    np.testing.assert_allclose(grad, ref_grad, **TOL)


def test_bad_inputs_are_named():
    with pytest.raises(DataError, match="divisible by heads"):
        attention.causal_attention(np.zeros((1, 2, 9)), 2)
    with pytest.raises(DataError, match="flat position 1"):
        attention.sequence_cross_entropy(np.zeros((1, 2, 4)), np.array([[0, 7]]))
    with pytest.raises(DataError, match="targets must have shape"):
        attention.sequence_cross_entropy(np.zeros((1, 2, 4)), np.array([0, 1, 2]))
