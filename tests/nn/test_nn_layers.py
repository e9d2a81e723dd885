"""Every layer of the Cython core against the numpy reference, over shapes drawn by Hypothesis."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nn_helpers import check_against_reference, random_inputs
from tutelage import nn

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
dims = st.integers(1, 6)


@st.composite
def elementwise_case(draw, layer):
    shape = tuple(draw(st.lists(dims, min_size=1, max_size=3)))
    return [layer()], shape


@st.composite
def dense_case(draw):
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=1)))
    return [nn.Dense(draw(st.integers(1, 20)))], (*lead, draw(st.integers(1, 20)))


@st.composite
def rowwise_case(draw, layer):
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=1)))
    return [layer()], (*lead, draw(st.integers(2, 12)))


@st.composite
def embedding_case(draw):
    return [nn.Embedding(draw(st.integers(1, 10)), draw(st.integers(1, 8)))], (draw(st.integers(1, 5)),)


@st.composite
def conv_case(draw):
    c, h, w = draw(st.integers(1, 3)), draw(st.integers(3, 8)), draw(st.integers(3, 8))
    padding = draw(st.integers(0, 1))
    kernel = draw(st.integers(1, min(h, w)))
    layer = nn.Conv2d(draw(st.integers(1, 4)), kernel=kernel, stride=draw(st.integers(1, 2)), padding=padding)
    return [layer], (c, h, w)


@st.composite
def pool_case(draw):
    c, h, w = draw(st.integers(1, 3)), draw(st.integers(2, 7)), draw(st.integers(2, 7))
    return [nn.MaxPool2d(draw(st.integers(1, min(h, w))))], (c, h, w)


@st.composite
def planes_case(draw):
    c, h, w, extras = draw(st.integers(1, 2)), draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(0, 2))
    return [nn.Planes([c, h, w], scale=draw(st.sampled_from([1.0, 1 / 255])))], (c * h * w + extras,)


CASES = {
    "dense": dense_case(),
    "relu": elementwise_case(nn.ReLU),
    "tanh": elementwise_case(nn.Tanh),
    "sigmoid": elementwise_case(nn.Sigmoid),
    "gelu": elementwise_case(nn.GELU),
    "softmax": rowwise_case(nn.Softmax),
    "log_softmax": rowwise_case(nn.LogSoftmax),
    "layer_norm": rowwise_case(nn.LayerNorm),
    "embedding": embedding_case(),
    "conv2d": conv_case(),
    "maxpool2d": pool_case(),
    "dropout": elementwise_case(lambda: nn.Dropout(0.3)),
    "planes": planes_case(),
}


# LayerNorm's float32 error grows with |x| / σ of a row (nearly equal inputs): looser parity bound.
TOLERANCES = {"layer_norm": {"rtol": 2e-3}}


def test_every_layer_type_has_a_case():
    assert set(CASES) | {"flatten"} == set(nn.LAYER_TYPES)


@pytest.mark.parametrize("kind", sorted(CASES))
@SETTINGS
@given(data=st.data(), n=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_layer_matches_reference(kind, data, n, seed):
    layers, shape = data.draw(CASES[kind], label="layers, input shape")
    rng = np.random.default_rng(seed)
    model = nn.Model(layers, shape, seed=seed)
    model.theta[:] = rng.standard_normal(model.n_params).astype(np.float32)
    check_against_reference(model, random_inputs(model, n, rng), rng, **TOLERANCES.get(kind, {}))


def test_conv_pool_flatten_dense_stack_matches_reference():
    rng = np.random.default_rng(0)
    model = nn.Model([nn.Conv2d(4, kernel=3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Dense(5),
                      nn.LayerNorm(), nn.GELU(), nn.Dense(3), nn.LogSoftmax()], (2, 6, 6), seed=0)
    check_against_reference(model, random_inputs(model, 4, rng), rng)


def test_large_dense_goes_through_blas_and_matches_reference():
    rng = np.random.default_rng(1)
    model = nn.Model([nn.Dense(300), nn.Tanh(), nn.Dense(200)], (257,), seed=1)  # 257·300 > the C-loop limit
    check_against_reference(model, random_inputs(model, 3, rng), rng, rtol=1e-3, atol=1e-4)


def test_tanh_is_accurate_to_float32_over_its_range():
    x = np.linspace(-12, 12, 200001, dtype=np.float32)
    model = nn.Model([nn.Tanh()], (x.size,))
    np.testing.assert_allclose(model(x), np.tanh(x.astype(np.float64)), rtol=2e-6, atol=2e-7)


def test_dropout_trains_with_a_seeded_mask_and_is_identity_at_inference():
    model = nn.Model([nn.Dropout(0.25)], (1000,), seed=3)
    X = np.ones((8, 1000), np.float32)
    np.testing.assert_array_equal(model.forward(X), X)
    np.testing.assert_array_equal(model(X[0]), X[0])
    Y = model.forward(X, training=True)
    kept = Y != 0
    assert 0.70 < kept.mean() < 0.80
    np.testing.assert_allclose(Y[kept], 1 / 0.75)
    dX = model.backward(np.full_like(X, 2.0))
    np.testing.assert_allclose(dX, np.where(kept, 2 / 0.75, 0.0))
    model.reseed(3)
    np.testing.assert_array_equal(model.forward(X, training=True), Y)


def test_embedding_rejects_ids_out_of_range():
    model = nn.Model([nn.Embedding(5, 2)], (3,))
    with pytest.raises(ValueError, match="integer id"):
        model(np.array([0, 5, 1], np.float32))
    with pytest.raises(ValueError, match="integer id"):
        model.forward(np.array([[0, 1.5, 1]], np.float32))
