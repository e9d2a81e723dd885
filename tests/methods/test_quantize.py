"""int8 quantization: round-trip error bounds, the int8 kernel against a numpy reference, files."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tutelage import nn
from tutelage._core import quant as quant_core
from tutelage.errors import ModelFileError, SpecError
from tutelage.nn.quantize import QuantizedModel, dequantize_weights, quantize, quantize_weights

weights = st.tuples(st.integers(1, 40), st.integers(1, 40)).flatmap(
    lambda shape: arrays(np.float32, shape, elements=st.floats(-100, 100, width=32))
)


@settings(max_examples=200, deadline=None)
@given(weights)
def test_round_trip_error_is_at_most_half_a_step_per_output_channel(w):
    q, scale = quantize_weights(w)
    assert q.dtype == np.int8 and q.shape == w.shape and scale.shape == (w.shape[1],)
    assert np.abs(q.astype(int)).max() <= 127
    back = dequantize_weights(q, scale)
    assert np.all(np.abs(back - w) <= scale / 2 * (1 + 1e-5) + 1e-12)
    # the largest weight of every channel maps to ±127 (no range is wasted), unless the channel is
    # so small that its step is subnormal in float32
    live = np.abs(w).max(0) / np.float32(127) >= np.finfo(np.float32).tiny
    np.testing.assert_array_equal(np.abs(q.astype(int)).max(0)[live], 127)


def reference_forward(qmodel: QuantizedModel, x: np.ndarray) -> np.ndarray:
    """numpy: the dequantized weights in float64, the activations by their definitions."""
    h = x.astype(np.float64)
    for i, layer in enumerate(qmodel.spec["layers"]):
        kind = layer["type"]
        if kind == "dense":
            w = dequantize_weights(qmodel.tensors[f"{i}.dense.q"], qmodel.tensors[f"{i}.dense.scale"])
            if f"{i}.dense.in_scale" in qmodel.tensors:  # the input is scaled by what the rows were divided by
                h = h * qmodel.tensors[f"{i}.dense.in_scale"]
            h = h @ w.astype(np.float64) + qmodel.tensors[f"{i}.dense.bias"]
        elif kind == "tanh":
            h = np.tanh(h)
        elif kind == "relu":
            h = np.maximum(h, 0)
        elif kind == "layer_norm":
            mu, var = h.mean(-1, keepdims=True), h.var(-1, keepdims=True)
            h = (h - mu) / np.sqrt(var + layer.get("eps", 1e-5)) * qmodel.tensors[f"{i}.layer_norm.gamma"] \
                + qmodel.tensors[f"{i}.layer_norm.beta"]
        elif kind == "softmax":
            e = np.exp(h - h.max(-1, keepdims=True))
            h = e / e.sum(-1, keepdims=True)
    return h


def make_model(seed=0, widths=(40, 24, 7)):
    return nn.Sequential([nn.Dense(widths[0]), nn.Tanh(), nn.Dense(widths[1]), nn.LayerNorm(), nn.ReLU(),
                          nn.Dense(widths[2]), nn.Softmax()], input_shape=(13,), seed=seed)


@pytest.mark.parametrize("equalize", [True, False])
@pytest.mark.parametrize("path", ["c", "avx2"])
@pytest.mark.parametrize("widths", [(40, 24, 7), (130, 64, 3), (1, 16, 17)])
def test_int8_kernel_matches_the_numpy_reference(path, widths, equalize):
    if path == "avx2" and quant_core.KERNEL != "avx2":
        pytest.skip("this CPU has no AVX2")
    model = make_model(widths=widths)
    model.theta[:] = np.random.default_rng(1).normal(0, 0.5, model.n_params).astype(np.float32)
    qmodel = quantize(model, equalize_inputs=equalize)
    assert ("0.dense.in_scale" in qmodel.tensors) == equalize and "2.dense.in_scale" not in qmodel.tensors
    X = np.random.default_rng(2).normal(size=(9, 13)).astype(np.float32)
    try:
        assert quant_core.use_kernel(path) == path
        batch, single = qmodel(X), np.stack([qmodel(x) for x in X])
    finally:
        quant_core.use_kernel("best")
    np.testing.assert_allclose(batch, reference_forward(qmodel, X), atol=2e-5)
    np.testing.assert_array_equal(batch, single)
    # and the int8 model stays close to the float model it came from
    np.testing.assert_allclose(batch, model(X), atol=0.05)


def test_equalized_inputs_keep_what_a_folded_standardization_puts_in_small_rows(tmp_path):
    model = nn.Sequential([nn.Dense(32), nn.Tanh(), nn.Dense(4)], input_shape=(6,), seed=0)
    spread = np.array([0.24, 1.0, 3.0, 10.0, 40.0, 117.0], np.float32)  # per-input std of raw observations
    model.layers[0].params["weight"][...] /= spread[:, None]  # a standardization folded into layer 1
    X = np.random.default_rng(3).normal(size=(200, 6)).astype(np.float32) * spread
    error = {eq: float(np.abs(quantize(model, equalize_inputs=eq)(X) - model(X)).max()) for eq in (True, False)}
    assert error[True] < 0.05 < error[False] and error[True] < error[False] / 10, error  # about 0.013 and 0.84
    t = quantize(model).tensors  # each weight back within half a step of its row and column
    step = t["0.dense.in_scale"][:, None] * t["0.dense.scale"][None, :]
    back = quantize(model).dequantized().layers[0].params["weight"]
    assert np.all(np.abs(back - model.layers[0].params["weight"]) <= step / 2 * (1 + 1e-4) + 1e-7)
    for eq in (True, False):  # files with and without the input scales load and run alike
        path = tmp_path / f"q{eq}.safetensors"
        quantize(model, equalize_inputs=eq).save(path)
        np.testing.assert_array_equal(nn.load(path)(X), quantize(model, equalize_inputs=eq)(X))


def test_quantized_model_checks_its_input_shape():
    qmodel = quantize(make_model())
    assert qmodel(np.zeros(13, np.float32)).shape == (7,)
    assert qmodel(np.zeros((1, 13), np.float32)).shape == (1, 7)
    with pytest.raises(ValueError, match=r"\(N, 13\)"):
        qmodel(np.zeros(12, np.float32))


def test_int8_file_round_trip_keeps_outputs_lineage_and_is_small(tmp_path):
    model = nn.Sequential([nn.Dense(256), nn.Tanh(), nn.Dense(256), nn.Tanh(), nn.Dense(10)], input_shape=(64,))
    qmodel = quantize(model)
    float_path, int8_path = tmp_path / "f.safetensors", tmp_path / "q.safetensors"
    parent = nn.save(model, float_path)
    ident = qmodel.save(int8_path, lineage={"parent": parent, "method": "int8"})
    loaded = nn.load(int8_path)
    assert isinstance(loaded, QuantizedModel) and loaded.info["id"] == ident
    assert loaded.info["lineage"] == {"parent": parent, "method": "int8"}
    x = np.random.default_rng(0).normal(size=(5, 64)).astype(np.float32)
    np.testing.assert_array_equal(loaded(x), qmodel(x))
    assert int8_path.stat().st_size <= 0.3 * float_path.stat().st_size


def test_a_corrupted_int8_file_is_a_clear_error(tmp_path):
    path = tmp_path / "q.safetensors"
    quantize(make_model()).save(path)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x55
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=str(path)):
        nn.load(path)


def test_layers_without_an_int8_kernel_are_refused():
    cnn = nn.Sequential([nn.Conv2d(4, kernel=3), nn.Flatten(), nn.Dense(3)], input_shape=(1, 6, 6))
    with pytest.raises(SpecError, match="conv2d"):
        quantize(cnn)
