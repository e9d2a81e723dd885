"""``tutelage generate-text``: a saved lm continues a prompt; bad models and options exit 2 naming the problem."""
from __future__ import annotations

from tutelage import nn
from tutelage.cli import main
from tutelage.nn.language import LanguageModel, Tokenizer


def test_generate_text_from_a_saved_model(tmp_path, capsys):
    text = "abc " * 100
    lm = LanguageModel(Tokenizer.for_text(text), context=16, layers=1, width=16, heads=2)
    lm.fit(text, steps=100, batch_size=8, lr=2e-2)
    lm.save(tmp_path / "lm.safetensors")
    assert main(["generate-text", str(tmp_path / "lm.safetensors"), "--prompt", "abc ", "--max-tokens", "8",
                  "--temperature", "0"]) == 0
    assert capsys.readouterr().out == "abc abc abc \n"
    assert main(["generate-text", str(tmp_path / "lm.safetensors"), "--prompt", "ab", "--samples", "2",
                 "--max-tokens", "5"]) == 0
    assert capsys.readouterr().out.count("--- sample") == 2
    assert main(["generate-text", str(tmp_path / "lm.safetensors"), "--prompt", "xyz"]) == 2
    assert "'x' is not in" in capsys.readouterr().err
    assert main(["generate-text", str(tmp_path / "lm.safetensors"), "--prompt", "a", "--top-k", "-1"]) == 2


def test_generate_text_refuses_other_models(tmp_path, capsys):
    model = nn.Model([nn.Dense(2)], (3,))
    nn.save(model, tmp_path / "mlp.safetensors")
    assert main(["generate-text", str(tmp_path / "mlp.safetensors"), "--prompt", "a"]) == 2
    assert "not 'lm'" in capsys.readouterr().err
