"""Models: specs and their JSON round trip, clear spec errors, θ views, copies, batch-1 path."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tutelage import nn
from tutelage.errors import SpecError


def mlp(seed=0):
    return nn.Sequential([nn.Dense(64), nn.Tanh(), nn.Dense(64), nn.Tanh(), nn.Dense(2)], input_shape=(16,), seed=seed)


def test_spec_round_trips_through_json():
    model = nn.Model([nn.Conv2d(4, kernel=3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.1),
                      nn.Dense(8), nn.LayerNorm(eps=1e-4), nn.GELU(), nn.Dense(3), nn.Softmax()], (1, 8, 8), seed=5)
    twin = nn.Model.from_spec(json.loads(json.dumps(model.spec)), seed=5)
    assert twin.spec == model.spec
    np.testing.assert_array_equal(twin.theta, model.theta)
    x = np.random.default_rng(0).standard_normal((1, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(twin(x), model(x))


def test_theta_is_one_vector_that_layers_view():
    model = mlp()
    assert model.theta.dtype == np.float32 and model.theta.flags.c_contiguous and model.theta.ndim == 1
    assert model.n_params == 16 * 64 + 64 + 64 * 64 + 64 + 64 * 2 + 2 == model.grad.size
    model.layers[0].weight[0, 0] = 42.0
    assert model.theta[0] == 42.0
    assert np.shares_memory(model.layers[4].bias, model.theta)
    assert model.output_size == 2 and model.input_shape == (16,)


def test_same_seed_same_theta_and_different_seed_differs():
    np.testing.assert_array_equal(mlp(3).theta, mlp(3).theta)
    assert not np.array_equal(mlp(3).theta, mlp(4).theta)


def test_batch_one_path_equals_the_batch_path_and_accepts_float64():
    model = mlp()
    X = np.random.default_rng(0).standard_normal((7, 16))
    batch = model(X)
    assert batch.shape == (7, 2)
    for i in range(7):
        single = model(X[i])  # float64 input is converted
        assert single.shape == (2,)
        np.testing.assert_allclose(single, batch[i], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(model(X.astype(np.float32)), batch)


def test_wrong_input_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 16\)"):
        mlp()(np.zeros(15, np.float32))


def test_backward_needs_a_forward_and_matching_gradient():
    model = mlp()
    with pytest.raises(RuntimeError, match="forward"):
        model.backward(np.zeros((1, 2), np.float32))
    model.forward(np.zeros((3, 16), np.float32))
    with pytest.raises(ValueError, match="dY has 4 elements, expected 6"):
        model.backward(np.zeros((2, 2), np.float32))


def test_gradient_accumulates_until_zeroed():
    model = mlp()
    X = np.ones((2, 16), np.float32)
    model.forward(X)
    model.backward(np.ones((2, 2), np.float32))
    once = model.grad.copy()
    model.backward(np.ones((2, 2), np.float32))
    np.testing.assert_allclose(model.grad, 2 * once, rtol=1e-6)
    model.zero_grad()
    assert not model.grad.any()


def test_copy_is_independent():
    model = mlp()
    twin = model.copy()
    np.testing.assert_array_equal(twin.theta, model.theta)
    twin.theta[:] = 0
    assert model.theta.any()


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"layers": [{"type": "dense", "units": 2}]}, r"missing field\(s\) \['input_shape'\]"),
        ({"input_shape": [4], "layers": []}, "non-empty list"),
        ({"input_shape": [0], "layers": [{"type": "relu"}]}, "'input_shape' must be"),
        ({"input_shape": [4], "layers": [{"type": "dens", "units": 2}]}, r"layers\[0\]: unknown layer type 'dens'; did you mean 'dense'"),
        ({"input_shape": [4], "layers": [{"type": "dense", "units": -1}]}, r"layers\[0\] \(dense\): field 'units' must be a positive integer"),
        ({"input_shape": [4], "layers": [{"type": "relu"}, {"type": "dense", "unit": 3}]}, r"layers\[1\] \(dense\).*unexpected keyword argument 'unit'"),
        ({"input_shape": [4], "layers": [{"type": "conv2d", "channels": 2}]}, r"layers\[0\] \(conv2d\): conv2d needs \(channels, height, width\)"),
        ({"input_shape": [4], "layers": ["dense"]}, r"layers\[0\]: must be a mapping with a 'type' field"),
    ],
)
def test_bad_specs_get_one_clear_error(spec, message):
    with pytest.raises(SpecError, match=message):
        nn.Model.from_spec(spec)


def test_models_pickle_for_process_pools():
    import pickle

    model = mlp()
    model.info = {"id": "x"}
    twin = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(twin.theta, model.theta)
    assert twin.spec == model.spec and twin.info == {"id": "x"}
    x = np.ones(16, np.float32)
    np.testing.assert_array_equal(twin(x), model(x))
