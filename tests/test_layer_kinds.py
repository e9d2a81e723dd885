"""A layer kind from a plugin (tests/plugin_layers/swish.py, loaded with --plugin): gradients, training,
save/load, and what happens without the plugin."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from tutelage import nn
from tutelage.errors import ModelFileError, SpecError
from tutelage.plugins import PluginHost
from tutelage.train import fit

PLUGIN = str(Path(__file__).parent / "plugin_layers" / "swish.py")
SPEC = {"input_shape": [3], "layers": [{"type": "dense", "units": 8}, {"type": "swish", "beta": 0.5},
                                       {"type": "dense", "units": 2}]}


@pytest.fixture(scope="module")
def kinds():
    host = PluginHost([PLUGIN])
    assert host.infos["swish"].error is None and host.registry("layer_kinds").owner["swish"] == "swish"
    return host.registry("layer_kinds")


def test_builtin_layers_come_through_the_same_registry(kinds):
    assert kinds["dense"] is nn.Dense and kinds.owner["dense"] == "models"


def test_gradients_match_finite_differences(kinds):
    model = nn.Model.from_spec(SPEC, seed=1, kinds=kinds)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 3)).astype(np.float32)
    W = rng.standard_normal((5, 2))

    def loss(theta=None, x=X):
        if theta is not None:
            model.theta[:] = theta
        return float((model.forward(x).astype(np.float64) * W).sum())

    model.zero_grad()
    model.forward(X)
    dX = model.backward(W.astype(np.float32))
    grad, theta0, eps = model.grad.astype(np.float64), model.theta.copy(), 1e-2
    for i in range(theta0.size):  # every parameter, β of the plugin layer included
        up, down = theta0.copy(), theta0.copy()
        up[i] += eps
        down[i] -= eps
        numeric = (loss(up) - loss(down)) / (2 * eps)
        assert numeric == pytest.approx(grad[i], rel=2e-2, abs=2e-3), i
    model.theta[:] = theta0
    for j in np.ndindex(X.shape):
        up, down = X.copy(), X.copy()
        up[j] += eps
        down[j] -= eps
        assert (loss(x=up) - loss(x=down)) / (2 * eps) == pytest.approx(dX[j], rel=2e-2, abs=2e-3), j
    assert np.abs(model.layers[1].grads["beta"]).max() > 1e-3  # the plugin's own parameters learn


def test_fit_reduces_the_loss(kinds):
    rng = np.random.default_rng(2)
    X = rng.uniform(-2, 2, (256, 3)).astype(np.float32)
    Y = np.stack([np.sin(X[:, 0]) * X[:, 1], X[:, 2] ** 2], axis=1).astype(np.float32)
    model = nn.Model.from_spec(SPEC, seed=0, kinds=kinds)
    beta0 = model.layers[1].params["beta"].copy()
    history = fit(model, X, Y, lr=1e-2, epochs=30, batch_size=32, quiet=True)
    assert history.epochs[-1]["loss"] < 0.5 * history.epochs[0]["loss"]
    assert not np.allclose(model.layers[1].params["beta"], beta0)


def test_save_load_round_trip_and_a_clear_error_without_the_plugin(kinds, tmp_path):
    model = nn.Model.from_spec(SPEC, seed=3, kinds=kinds)
    path = tmp_path / "swish.safetensors"
    ident = nn.save(model, path)
    x = np.linspace(-1, 1, 3, dtype=np.float32)
    loaded = nn.load(path, kinds=kinds)
    assert loaded.info["id"] == ident and loaded.spec == model.spec and loaded.kinds == {"swish": kinds["swish"]}
    np.testing.assert_array_equal(loaded(x), model(x))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(loaded))(x), model(x))
    with pytest.raises(ModelFileError, match=r"swish.safetensors: the model uses layer kind\(s\) \['swish'\] from a "
                                             r"plugin that is not loaded"):
        nn.load(path)


def test_unknown_kind_in_a_spec_names_it():
    with pytest.raises(SpecError, match=r"layers\[1\]: unknown layer type 'swish'.*needs the plugin loaded"):
        nn.Model.from_spec(SPEC)


def test_an_error_in_a_plugin_layer_reaches_the_caller(kinds):
    model = nn.Model.from_spec(SPEC, kinds=kinds)
    model.layers[1].forward = lambda x, training: x[:, :0]  # an empty output cannot fill the layer's
    with pytest.raises(ValueError, match="could not broadcast"):
        model(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="could not broadcast"):
        model.forward(np.zeros((4, 3), np.float32))
    model = nn.Model.from_spec(SPEC, kinds=kinds)
    model.forward(np.zeros((4, 3), np.float32))
    model.layers[1].backward = lambda x, y, dy: 1 / 0
    with pytest.raises(ZeroDivisionError):
        model.backward(np.ones((4, 2), np.float32))
    assert model(np.zeros(3, np.float32)).shape == (2,)  # the model still works after an error


def cli(*args: str, cwd: Path) -> "subprocess.CompletedProcess[str]":
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "tutelage.cli", *args], cwd=cwd, capture_output=True, text=True)


def test_commands_and_their_workers_load_a_plugin_layer_model_given_the_plugin(kinds, tmp_path):
    pytest.importorskip("pybullet")
    import tutelage.worlds  # noqa: F401  (registers the worlds)
    from tutelage.sim.spaces import io_sizes

    inputs, outputs = io_sizes("tutelage/Reach-v0")
    spec = {"input_shape": [inputs], "layers": [{"type": "dense", "units": 8}, {"type": "swish", "beta": 0.5},
                                                {"type": "dense", "units": outputs}]}
    nn.save(nn.Model.from_spec(spec, seed=0, kinds=kinds), tmp_path / "policy.safetensors", model_type="mlp")
    shown = cli("--plugin", PLUGIN, "show", "policy.safetensors", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr[-2000:]
    evaluated = cli("--plugin", PLUGIN, "evaluate", "policy.safetensors", "--world", "tutelage/Reach-v0",
                    "--episodes", "2", "--max-steps", "5", "--workers", "2", "--quiet", "--json", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    without = cli("show", "policy.safetensors", cwd=tmp_path)
    assert without.returncode == 2 and "layer kind(s) ['swish'] from a plugin that is not loaded" in without.stderr
