"""Save/load as safetensors: round trip with metadata, and one clear error for every kind of bad file."""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from safetensors.numpy import save_file

from tutelage import nn
from tutelage.errors import ModelFileError
from tutelage.nn.serialize import header_checksum


@pytest.fixture()
def model():
    return nn.Sequential([nn.Dense(8), nn.Tanh(), nn.Dense(3)], input_shape=(4,), seed=1)


def test_round_trip_keeps_theta_spec_type_and_lineage(tmp_path, model):
    path = tmp_path / "m.safetensors"
    lineage = {"parent": "abc", "method": "distill", "dataset": "d1", "teacher": "t1"}
    ident = nn.save(model, path, model_type="mlp", lineage=lineage, metadata={"note": "x"})
    loaded = nn.load(path)
    np.testing.assert_array_equal(loaded.theta, model.theta)
    assert loaded.info == {"id": ident, "model_type": "mlp", "lineage": lineage, "metadata": {"note": "x"},
                           "spec": model.spec}
    assert ident == nn.model_id(model) and len(ident) == 16
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]  # atomic: no temp file left


def test_file_is_plain_safetensors_with_named_tensors(tmp_path, model):
    from safetensors import safe_open

    nn.save(model, tmp_path / "m.safetensors")
    with safe_open(str(tmp_path / "m.safetensors"), framework="numpy") as f:
        assert sorted(f.keys()) == ["0.dense.bias", "0.dense.weight", "2.dense.bias", "2.dense.weight"]
        np.testing.assert_array_equal(f.get_tensor("0.dense.weight"), model.layers[0].weight)
        assert json.loads(f.metadata()["spec"]) == model.spec


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="nope.safetensors: no such model file"):
        nn.load(tmp_path / "nope.safetensors")


def test_truncated_file(tmp_path, model):
    path = tmp_path / "m.safetensors"
    nn.save(model, path)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ModelFileError, match=r"m\.safetensors: not a readable safetensors file"):
        nn.load(path)


def test_garbage_file(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"\x00" * 3)
    with pytest.raises(ModelFileError, match=r"m\.safetensors"):
        nn.load(path)


def test_flipped_byte_in_the_weights_is_caught(tmp_path, model):
    path = tmp_path / "m.safetensors"
    nn.save(model, path)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="content does not match its id"):
        nn.load(path)


def _rewrite_header(path, edit):
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    edit(header)
    header["__metadata__"]["checksum"] = header_checksum(header["__metadata__"])  # a writer that re-signs its edit
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + size:])


def test_spec_that_does_not_match_the_tensors(tmp_path, model):
    path = tmp_path / "m.safetensors"
    nn.save(model, path)
    spec = model.spec
    spec["layers"][0]["units"] = 7
    _rewrite_header(path, lambda h: h["__metadata__"].update(spec=json.dumps(spec)))
    with pytest.raises(ModelFileError, match="tensor '0.dense.weight' is float32\\[4, 8\\], the spec needs float32\\[4, 7\\]"):
        nn.load(path)


def test_bad_spec_in_file(tmp_path, model):
    path = tmp_path / "m.safetensors"
    nn.save(model, path)
    _rewrite_header(path, lambda h: h["__metadata__"].update(spec=json.dumps({"input_shape": [4], "layers": [{"type": "dens"}]})))
    with pytest.raises(ModelFileError, match=r"m\.safetensors: field 'spec': .*unknown layer type 'dens'"):
        nn.load(path)


def test_foreign_safetensors_file(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"w": np.zeros(3, np.float32)}, str(path))
    with pytest.raises(ModelFileError, match="other.safetensors: metadata field 'format'"):
        nn.load(path)
