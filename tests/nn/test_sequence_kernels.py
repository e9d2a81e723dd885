"""The GPT's C kernels (tutelage._core.sequence) against the float64 numpy reference, on every SIMD path this CPU runs.

Shapes run past the 8-float vector blocks (time, width, vocabulary up to a few hundred) so that both the
vector loops and their scalar tails are exercised; the references are checked by finite differences in
test_nn_gradcheck.py and test_attention.py.
"""
from __future__ import annotations

from contextlib import contextmanager
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tutelage._core import sequence as _s
from tutelage._core import simd
from tutelage.nn import attention, reference

PATHS = simd.available()
TOL = dict(rtol=2e-4, atol=2e-5)


@contextmanager
def simd_path(name: str):
    simd.use_path(name)
    try:
        yield
    finally:
        simd.use_path("auto")


def normal(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return (scale * rng.standard_normal(shape)).astype(np.float32)


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=12, deadline=None)
@given(batch=st.integers(1, 2), time=st.integers(1, 40), heads=st.integers(1, 3), hd=st.integers(1, 20),
       seed=st.integers(0, 2**16))
def test_attention_kernels_match_reference(path, batch, time, heads, hd, seed):
    rng = np.random.default_rng(seed)
    qkv = normal(rng, batch, time, 3 * heads * hd)
    dout = normal(rng, batch, time, heads * hd)
    with simd_path(path):
        out, probs = attention.causal_attention(qkv, heads)
        dqkv = attention.causal_attention_backward(qkv, probs, dout, heads)
    ref_out, ref_probs = reference.causal_attention(qkv.astype(np.float64), heads)
    np.testing.assert_allclose(out, ref_out, **TOL)
    np.testing.assert_allclose(probs, ref_probs, **TOL)
    ref = reference.causal_attention_backward(qkv.astype(np.float64), ref_probs, dout.astype(np.float64), heads)
    np.testing.assert_allclose(dqkv, ref, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("path", PATHS)
def test_gelu_and_its_slope_match_reference(path):
    rng = np.random.default_rng(0)
    x = np.concatenate([normal(rng, 997, scale=3.0),
                        np.array([0.0, -0.0, 1e-30, -1e-30, 8.0, -8.0, 20.0, -20.0, 100.0, -100.0], np.float32)])
    y, slope = np.empty_like(x), np.empty_like(x)
    with simd_path(path):
        _s.gelu(x, y, slope, x.size)
    forward, backward = reference.gelu
    ref, cache = forward(None, {}, x.astype(np.float64))
    ref_slope, _ = backward(None, {}, cache, np.ones(x.size))
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(slope, ref_slope, rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=15, deadline=None)
@given(rows=st.integers(1, 20), n=st.integers(1, 70), shift=st.floats(-5, 5), accumulate=st.booleans(),
       seed=st.integers(0, 2**16))
def test_layer_norm_kernels_match_reference(path, rows, n, shift, accumulate, seed):
    rng = np.random.default_rng(seed)
    x = normal(rng, rows, n, scale=2.0) + np.float32(shift)
    gamma, beta, dy = normal(rng, n), normal(rng, n), normal(rng, rows, n)
    y, stats, dx = np.empty_like(x), np.empty(2 * rows, np.float32), normal(rng, rows, n)
    start = dx.copy()
    dgamma, dbeta = np.ones(n, np.float32), np.ones(n, np.float32)
    with simd_path(path):
        _s.layer_norm(x, y, gamma, beta, stats, rows, n, 1e-5)
        _s.layer_norm_grad(x, dy, dx, gamma, stats, dgamma, dbeta, rows, n, accumulate)
    layer, params = SimpleNamespace(eps=1e-5), {"gamma": gamma.astype(np.float64), "beta": beta.astype(np.float64)}
    ref_y, cache = reference.layer_norm_forward(layer, params, x.astype(np.float64))
    ref_dx, ref_grads = reference.layer_norm_backward(layer, params, cache, dy.astype(np.float64))
    np.testing.assert_allclose(y, ref_y, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dx, ref_dx + (start if accumulate else 0), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(dgamma, 1 + ref_grads["gamma"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dbeta, 1 + ref_grads["beta"], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=15, deadline=None)
@given(rows=st.integers(1, 20), n_in=st.integers(1, 40), n_out=st.integers(1, 40), residual=st.booleans(),
       seed=st.integers(0, 2**16))
def test_dense_kernels_match_reference(path, rows, n_in, n_out, residual, seed):
    rng = np.random.default_rng(seed)
    x, w, b, dy = normal(rng, rows, n_in), normal(rng, n_in, n_out), normal(rng, n_out), normal(rng, rows, n_out)
    res = normal(rng, rows, n_out) if residual else None
    y, dx = np.empty((rows, n_out), np.float32), np.empty((rows, n_in), np.float32)
    dw, db = np.ones((n_in, n_out), np.float32), np.ones(n_out, np.float32)
    with simd_path(path):
        _s.dense(x, w, b, y, rows, n_in, n_out, res)
        _s.dense_grad(x, dy, w, dw, db, dx, rows, n_in, n_out)
    params = {"weight": w.astype(np.float64), "bias": b.astype(np.float64)}
    ref_y, _ = reference.dense_forward(None, params, x.astype(np.float64))
    ref_dx, grads = reference.dense_backward(None, params, x.astype(np.float64), dy.astype(np.float64))
    np.testing.assert_allclose(y, ref_y + (res if residual else 0), **TOL)
    np.testing.assert_allclose(dx, ref_dx, **TOL)
    np.testing.assert_allclose(dw, 1 + grads["weight"], **TOL)
    np.testing.assert_allclose(db, 1 + grads["bias"], **TOL)


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=15, deadline=None)
@given(rows=st.integers(1, 30), vocab=st.integers(2, 300), seed=st.integers(0, 2**16))
def test_cross_entropy_kernel_matches_reference(path, rows, vocab, seed):
    rng = np.random.default_rng(seed)
    logits, ids = normal(rng, rows, vocab, scale=4.0), rng.integers(0, vocab, rows)
    grad, each = np.empty_like(logits), np.empty(rows, np.float32)
    with simd_path(path):
        value = _s.sequence_cross_entropy(logits, ids.astype(np.float32), grad, rows, vocab, each)
    ref_value, ref_grad = reference.sequence_cross_entropy(logits.astype(np.float64), ids)
    ref_each = -reference._log_softmax(logits.astype(np.float64))[np.arange(rows), ids]
    assert value == pytest.approx(ref_value, rel=1e-5, abs=1e-5)
    np.testing.assert_allclose(grad, ref_grad, **TOL)
    np.testing.assert_allclose(each, ref_each, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=15, deadline=None)
@given(rows=st.integers(1, 30), vocab=st.integers(2, 300), t=st.floats(0.5, 4.0), offset=st.floats(-50, 50),
       seed=st.integers(0, 2**16))
def test_soft_cross_entropy_kernel_matches_reference(path, rows, vocab, t, offset, seed):
    rng = np.random.default_rng(seed)
    logits = normal(rng, rows, vocab, scale=4.0) + np.float32(offset)  # a shift the loss ignores
    probs = rng.dirichlet(np.ones(vocab), rows).astype(np.float32)
    probs[0] *= 0.5  # a row whose mass is not one (top-k stored teacher probabilities)
    grad = np.empty_like(logits)
    with simd_path(path):
        value = _s.soft_cross_entropy(logits, probs, grad, rows, vocab, t)
    ref_value, ref_grad = reference.soft_cross_entropy(logits.astype(np.float64), probs.astype(np.float64), t)
    assert value == pytest.approx(ref_value, rel=1e-4, abs=1e-4)
    np.testing.assert_allclose(grad, ref_grad, **TOL)
