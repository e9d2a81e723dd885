"""The generative kernels (Bernoulli NLL, mixture NLL, Gaussian latent) against the reference and finite differences."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tutelage.errors import DataError
from tutelage.nn import losses, reference

from test_nn_gradcheck import numeric_gradient

TOL = dict(rtol=1e-4, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 12), k=st.integers(1, 6), components=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_kernels_match_reference(rows, k, components, seed):
    rng = np.random.default_rng(seed)
    logits = (3 * rng.standard_normal((rows, k))).astype(np.float32)
    probs = rng.uniform(0, 1, (rows, k)).astype(np.float32)
    value, grad = losses.BernoulliNLL()(logits, probs)
    ref_value, ref_grad = reference.bernoulli_nll(logits.astype(np.float64), probs.astype(np.float64))
    assert value == pytest.approx(ref_value, rel=1e-5, abs=1e-5)
    np.testing.assert_allclose(grad, ref_grad, **TOL)

    pred = rng.standard_normal((rows, components * (1 + 2 * k))).astype(np.float32)
    pred[:, components + components * k:] *= 0.3  # log σ in a sane range
    target = rng.standard_normal((rows, k)).astype(np.float32)
    value, grad = losses.MixtureNLL(components)(pred, target)
    ref_value, ref_grad = reference.mixture_nll(pred.astype(np.float64), target.astype(np.float64), components)
    assert value == pytest.approx(ref_value, rel=1e-4, abs=1e-4)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-3, atol=1e-5)

    stats = rng.standard_normal((rows, 2 * k)).astype(np.float32)
    eps = rng.standard_normal((rows, k)).astype(np.float32)
    dz = rng.standard_normal((rows, k)).astype(np.float32)
    latent = losses.GaussianLatent(beta=0.7)
    z = latent.sample(stats, eps)
    kl, dstats = latent.backward(stats, eps, dz)
    ref_z, ref_kl, ref_dstats = reference.gaussian_latent(*(a.astype(np.float64) for a in (stats, eps, dz)), beta=0.7)
    np.testing.assert_allclose(z, ref_z, **TOL)
    assert kl == pytest.approx(ref_kl, rel=1e-5, abs=1e-6)
    np.testing.assert_allclose(dstats, ref_dstats, **TOL)


def test_per_row_values_sum_to_the_mean():
    rng = np.random.default_rng(0)
    pred, target = rng.standard_normal((5, 2 * (1 + 2 * 3))), rng.standard_normal((5, 3))
    loss = losses.MixtureNLL(2)
    assert loss.per_row(pred, target).mean() == pytest.approx(loss(pred, target)[0], rel=1e-6)
    logits, probs = rng.standard_normal((5, 4)), rng.uniform(0, 1, (5, 4))
    assert losses.BernoulliNLL().per_row(logits, probs).mean() == pytest.approx(losses.BernoulliNLL()(logits, probs)[0])


def test_hand_computed_values():
    # one component at the target: NLL = d·½·log 2π; logit 0 against t = 1: log 2
    d = 3
    pred = np.zeros((1, 1 + 2 * d), np.float32)
    assert losses.MixtureNLL(1)(pred, np.zeros((1, d)))[0] == pytest.approx(d * 0.5 * np.log(2 * np.pi), rel=1e-6)
    assert losses.BernoulliNLL()(np.zeros((1, 2)), np.ones((1, 2)))[0] == pytest.approx(2 * np.log(2), rel=1e-6)
    # KL of N(1, e) against N(0, 1) in one dimension: ½(1 + e − 1 − 1)
    kl, _ = losses.GaussianLatent().backward(np.array([[1.0, 1.0]]), np.zeros((1, 1)))
    assert kl == pytest.approx(0.5 * (np.e - 1), rel=1e-6)


def test_generative_loss_gradients_match_finite_differences():
    rng = np.random.default_rng(3)
    logits, probs = rng.standard_normal((3, 4)), rng.uniform(0, 1, (3, 4))
    _, grad = reference.bernoulli_nll(logits, probs)
    np.testing.assert_allclose(grad, numeric_gradient(lambda: reference.bernoulli_nll(logits, probs)[0], logits),
                               rtol=1e-5, atol=1e-8)
    pred, target = 0.5 * rng.standard_normal((3, 3 * (1 + 2 * 2))), rng.standard_normal((3, 2))
    _, grad = reference.mixture_nll(pred, target, 3)
    np.testing.assert_allclose(grad, numeric_gradient(lambda: reference.mixture_nll(pred, target, 3)[0], pred),
                               rtol=1e-5, atol=1e-8)
    stats, eps, R = rng.standard_normal((3, 4)), rng.standard_normal((3, 2)), rng.standard_normal((3, 2))

    def objective() -> float:  # β·KL + Σ R·z: the gradient the encoder receives when dz = R
        z, kl, _ = reference.gaussian_latent(stats, eps, R, beta=0.5)
        return 0.5 * kl + float((R * z).sum())

    _, _, dstats = reference.gaussian_latent(stats, eps, R, beta=0.5)
    np.testing.assert_allclose(dstats, numeric_gradient(objective, stats), rtol=1e-5, atol=1e-8)


def test_bad_shapes_are_named():
    with pytest.raises(DataError, match="K·"):
        losses.MixtureNLL(2)(np.zeros((4, 5)), np.zeros((4, 2)))
    with pytest.raises(DataError, match="stats must be"):
        losses.GaussianLatent().sample(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(DataError, match="does not match"):
        losses.BernoulliNLL()(np.zeros((4, 3)), np.zeros((4, 2)))
    assert isinstance(losses.get("mixture_nll"), losses.MixtureNLL)
