"""Model files: header checksum, sizes checked before allocating, bounded JSON, links, directories, NaN."""
from __future__ import annotations

import json
import os
import struct
import time

import numpy as np
import pytest

from tutelage import nn
from tutelage.errors import ModelFileError, NumericalError
from tutelage.nn.quantize import quantize
from tutelage.nn.serialize import header_checksum, model_id, write_model_file


@pytest.fixture()
def saved(tmp_path):
    model = nn.Sequential([nn.Dense(8), nn.Tanh(), nn.Dense(3)], input_shape=(4,), seed=1)
    path = tmp_path / "m.safetensors"
    nn.save(model, path, model_type="mlp", lineage={"method": "fit", "teacher": "t"})
    return path


def rewrite(path, edit, resign=False):
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    edit(header["__metadata__"])
    if resign:
        header["__metadata__"]["checksum"] = header_checksum(header["__metadata__"])
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + size:])


@pytest.mark.parametrize("field, value", [("model_type", "cnn"), ("lineage", '{"teacher": "other"}'),
                                          ("metadata", '{"run": "x"}')])
def test_an_edited_header_field_is_detected(saved, field, value):
    rewrite(saved, lambda h: h.update({field: value}))
    with pytest.raises(ModelFileError, match=r"m\.safetensors: metadata field 'checksum' does not match"):
        nn.load(saved)


def test_a_file_without_checksum_is_refused_and_says_why(saved):
    rewrite(saved, lambda h: h.pop("checksum"))
    with pytest.raises(ModelFileError, match="'checksum' is missing.*older than header checksums"):
        nn.load(saved)


@pytest.mark.parametrize("units", [10**12, 3 * 10**7])
def test_a_huge_spec_is_refused_before_anything_is_allocated(saved, units):
    spec = {"input_shape": [4], "layers": [{"type": "dense", "units": units}]}
    rewrite(saved, lambda h: h.update(spec=json.dumps(spec)), resign=True)
    started = time.perf_counter()
    with pytest.raises(ModelFileError, match=r"field 'spec'(: .*exceeds| needs \d+ parameters, the file holds 67)"):
        nn.load(saved)
    assert time.perf_counter() - started < 0.5


def test_huge_intermediate_shapes_are_refused(saved):
    spec = {"input_shape": [10**6, 10**6], "layers": [{"type": "relu"}]}
    rewrite(saved, lambda h: h.update(spec=json.dumps(spec)), resign=True)
    with pytest.raises(ModelFileError, match="field 'spec': .*exceeds"):
        nn.load(saved)


@pytest.mark.parametrize("field", ["spec", "lineage", "metadata"])
@pytest.mark.parametrize("depth", [40, 50_000])
def test_deep_json_is_refused(saved, field, depth):
    rewrite(saved, lambda h: h.update({field: "[" * depth + "]" * depth}), resign=True)
    with pytest.raises(ModelFileError, match=f"metadata field '{field}' is nested deeper than 32 levels"):
        nn.load(saved)


def test_links_directories_and_pipes_get_their_own_message(tmp_path):
    loop = tmp_path / "loop.safetensors"
    os.symlink(loop.name, loop)
    with pytest.raises(ModelFileError, match="loop.safetensors: cannot read the model file: too many levels of symbolic links"):
        nn.load(loop)
    folder = tmp_path / "dir.safetensors"
    folder.mkdir()
    with pytest.raises(ModelFileError, match="dir.safetensors: cannot read the model file: is a directory"):
        nn.load(folder)
    pipe = tmp_path / "pipe.safetensors"
    os.mkfifo(pipe)
    with pytest.raises(ModelFileError, match="pipe.safetensors: cannot read the model file: not a regular file"):
        nn.load(pipe)


@pytest.mark.skipif(os.geteuid() == 0, reason="permission bits do not stop root")
def test_an_unreadable_file_says_permission_denied(saved):
    saved.chmod(0)
    with pytest.raises(ModelFileError, match="permission denied"):
        nn.load(saved)


def test_nan_models_are_never_saved_loaded_or_quantized(tmp_path, saved):
    model = nn.load(saved)
    model.theta[2] = np.nan
    with pytest.raises(NumericalError, match="not written: the model has 1 non-finite"):
        nn.save(model, tmp_path / "nan.safetensors")
    assert not (tmp_path / "nan.safetensors").exists()
    with pytest.raises(NumericalError, match="cannot quantize"):
        quantize(model)
    tensors = {f"{i}.{layer.type}.{n}": v for i, layer in enumerate(model.layers) for n, v in layer.params.items()}
    crafted = tmp_path / "crafted.safetensors"  # valid id and checksum, NaN inside
    write_model_file(crafted, tensors, fmt="tutelage-model-1", ident=model_id(model), spec=model.spec,
                     model_type="mlp", lineage={}, metadata={})
    with pytest.raises(ModelFileError, match="tensor '0.dense.weight' holds NaN or infinite values"):
        nn.load(crafted)
