"""The core's losses against the numpy reference, and their input checks."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tutelage.errors import DataError, UnknownNameError
from tutelage.nn import losses, reference

TOL = dict(rtol=1e-4, atol=1e-6)
shapes = st.tuples(st.integers(1, 16), st.integers(1, 10))


@settings(max_examples=30, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_losses_match_reference(shape, seed):
    rng = np.random.default_rng(seed)
    n, k = shape
    pred = (3 * rng.standard_normal(shape)).astype(np.float32)
    p64 = pred.astype(np.float64)
    target = rng.standard_normal(shape).astype(np.float32)
    labels = rng.integers(0, k, n)
    soft = rng.dirichlet(np.ones(k), n).astype(np.float32)
    teacher = (3 * rng.standard_normal(shape)).astype(np.float32)
    cases = [
        (losses.MSE()(pred, target), reference.mse(p64, target.astype(np.float64))),
        (losses.CrossEntropy()(pred, labels), reference.cross_entropy(p64, labels)),
        (losses.CrossEntropy()(pred, soft), reference.cross_entropy(p64, soft.astype(np.float64))),
        (losses.Distillation(2.0, 0.3)(pred, (teacher, labels)),
         reference.distillation(p64, teacher.astype(np.float64), labels, 2.0, 0.3)),
        (losses.Distillation(4.0, 1.0)(pred, (teacher, None)),
         reference.distillation(p64, teacher.astype(np.float64), None, 4.0, 1.0)),
    ]
    wide = np.concatenate([pred, 0.3 * pred], axis=1)
    cases.append((losses.GaussianNLL()(wide, target), reference.gaussian_nll(wide.astype(np.float64), target.astype(np.float64))))
    for (value, grad), (ref_value, ref_grad) in cases:
        assert value == pytest.approx(ref_value, rel=1e-4, abs=1e-5)
        np.testing.assert_allclose(grad, ref_grad, **TOL)


def test_bradley_terry_matches_reference():
    rng = np.random.default_rng(0)
    chosen, rejected = (5 * rng.standard_normal((2, 50))).astype(np.float32)
    value, d_chosen, d_rejected = losses.BradleyTerry()(chosen, rejected)
    ref = reference.bradley_terry(chosen.astype(np.float64), rejected.astype(np.float64))
    assert value == pytest.approx(ref[0], rel=1e-5)
    np.testing.assert_allclose(d_chosen, ref[1], **TOL)
    np.testing.assert_allclose(d_rejected, ref[2], **TOL)


def test_losses_are_found_by_name():
    assert isinstance(losses.get("cross_entropy"), losses.CrossEntropy)
    assert losses.get("distillation", temperature=3.0).temperature == 3.0
    with pytest.raises(UnknownNameError, match="did you mean 'mse'"):
        losses.get("mes")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: losses.CrossEntropy()(np.zeros((2, 3)), np.array([0, 3])), r"labels must lie in \[0, 3\)"),
        (lambda: losses.CrossEntropy()(np.zeros((2, 3)), np.array([0.5, 1])), "integer labels"),
        (lambda: losses.MSE()(np.zeros((2, 3)), np.zeros((2, 2))), "target has 4 values"),
        (lambda: losses.Distillation(2, 0.5)(np.zeros((2, 3)), (np.zeros((2, 3)), None)), "needs hard labels"),
        (lambda: losses.GaussianNLL()(np.zeros((2, 3)), np.zeros((2, 2))), r"\(N, 2k\)"),
        (lambda: losses.BradleyTerry()(np.zeros(3), np.zeros(4)), "differ in shape"),
    ],
)
def test_bad_targets_get_clear_errors(call, message):
    with pytest.raises(DataError, match=message):
        call()
