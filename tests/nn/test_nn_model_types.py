"""The built-in model types ``mlp`` and ``cnn``, found through the plugin registry."""
from __future__ import annotations

import numpy as np
import pytest

from tutelage.errors import SpecError
from tutelage.plugins import registry
from tutelage.protocols import ModelType


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_registered_and_typed(name):
    assert isinstance(registry("model_types").get(name), ModelType)


def test_mlp_options():
    mlp = registry("model_types").get("mlp")
    model = mlp.build((4, 3), 2, seed=1, hidden=(8,), activation="relu", output_activation="softmax", dropout=0.1)
    assert [layer.type for layer in model.layers] == ["flatten", "dense", "relu", "dropout", "dense", "softmax"]
    out = model(np.ones((4, 3), np.float32))
    assert out.shape == (2,) and out.sum() == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_array_equal(mlp.build((5,), 2, seed=3).theta, mlp.build((5,), 2, seed=3).theta)
    with pytest.raises(SpecError, match="unknown activation 'rel'; did you mean 'relu'"):
        mlp.build((5,), 2, activation="rel")
    with pytest.raises(SpecError, match="'hidden' must be positive integers"):
        mlp.build((5,), 2, hidden=(8, 0))


def test_cnn_shapes_and_errors():
    cnn = registry("model_types").get("cnn")
    model = cnn.build((3, 16, 12), 5, seed=0, channels=(4, 8, 8), kernel=3, hidden=32)
    assert model.shapes[-1] == (5,)
    assert model.forward(np.zeros((2, 3, 16, 12), np.float32)).shape == (2, 5)
    assert [s for s, layer in zip(model.shapes[1:], model.layers) if layer.type == "maxpool2d"] == [(4, 8, 6), (8, 4, 3), (8, 2, 1)]
    with pytest.raises(SpecError, match=r"input_shape must be \(channels, height, width\)"):
        cnn.build((64,), 10)
