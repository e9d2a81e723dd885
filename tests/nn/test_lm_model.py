"""The ``lm`` model type: building from the registry, training, sampling, and safetensors files with the tokenizer."""
from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors import safe_open

from tutelage import nn
from tutelage.errors import DataError, ModelFileError, SpecError
from tutelage.nn.language import LanguageModel, Tokenizer
from tutelage.plugins import registry

TEXT = "the cat sat on the mat. " * 40


def test_tokenizers_round_trip():
    chars = Tokenizer.for_text(TEXT)
    assert chars.size == len(set(TEXT)) and chars.decode(chars.encode("a cat")) == "a cat"
    raw = Tokenizer()
    assert raw.size == 256 and raw.decode(raw.encode("héllo")) == "héllo"
    with pytest.raises(DataError, match="'z' is not in"):
        chars.encode("zebra")


def test_train_sample_save_and_load(tmp_path):
    lm = registry("model_types").get("lm").build(alphabet="".join(sorted(set(TEXT))), context=16, layers=1,
                                                 width=32, heads=4, seed=0)
    before = lm.loss(TEXT)
    history = lm.fit(TEXT, steps=120, batch_size=8, lr=1e-2, seed=0, validation=TEXT[:200], every=60)
    assert lm.loss(TEXT) < before / 2 and "validation_loss" in history[-1]
    text = lm.generate("the ", max_tokens=20, temperature=0.5, top_k=5, seed=1)
    assert len(text) == 20 and text == lm.generate("the ", max_tokens=20, temperature=0.5, top_k=5, seed=1)
    lm.save(tmp_path / "lm.safetensors")
    with safe_open(str(tmp_path / "lm.safetensors"), framework="numpy") as handle:
        assert json.loads(handle.metadata()["spec"])["alphabet"] == lm.tokenizer.alphabet
    back = nn.load(tmp_path / "lm.safetensors")
    assert isinstance(back, LanguageModel) and back.loss(TEXT) == pytest.approx(lm.loss(TEXT), rel=1e-6)
    assert back.generate("the ", 20, 0.5, 5, 1) == text


def test_edited_file_is_refused(tmp_path):
    lm = LanguageModel(Tokenizer("ab"), context=4, layers=1, width=4, heads=1)
    lm.save(tmp_path / "lm.safetensors")
    tensors = lm.tensors()
    tensors["tok"] += 1.0
    from tutelage.nn.serialize import read_model_file, write_model_file
    header, _, spec = read_model_file(tmp_path / "lm.safetensors")
    write_model_file(tmp_path / "bad.safetensors", tensors, fmt=header["format"], ident=header["id"], spec=spec,
                     model_type="lm", lineage=None, metadata=None)
    with pytest.raises(ModelFileError, match="does not match its id"):
        nn.load(tmp_path / "bad.safetensors")


def test_bad_options_are_named():
    lm_type = registry("model_types").get("lm")
    with pytest.raises(SpecError, match="'layers'"):
        lm_type.build(layers=0)
    with pytest.raises(SpecError, match="do not match"):
        lm_type.build((10,), 5, context=8)
    with pytest.raises(DataError, match="divisible by heads"):
        lm_type.build(width=30, heads=4)
    per_token = LanguageModel(Tokenizer("ab"), context=4, layers=1, width=4, heads=1).token_losses("abababababa")
    assert per_token.shape == (10,) and np.all(per_token > 0)
