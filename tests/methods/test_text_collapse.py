"""Text collapse: rarity statistics by hand, and a tiny replace / accumulate chain."""
from __future__ import annotations

import math

import pytest

from tutelage.methods.text_collapse import rarity, text_collapse, text_stats
from tutelage.nn.language import Tokenizer


def test_rarity_and_stats():
    real = "apple " * 400 + "pear z"
    rare, common = rarity(real, rare_share=1e-3, common_words=1)
    assert rare == {"r", "z"} and common == {"apple"}
    assert text_stats("zz pear apple", rare, common) == pytest.approx(  # z, z, r; words zz and pear
        {"rare_char_share": 3 / 13, "rare_word_share": 2 / 3, "rare_chars_seen": 1.0})
    assert text_stats("zz apple", rare, common)["rare_chars_seen"] == 0.5  # r is gone


def test_chain_rows():
    real = "the cat sat on the mat. a dog ran in the fog. " * 30
    tok = Tokenizer.for_text(real)
    arch = dict(context=16, layers=1, width=16, heads=2)
    for regime in ("replace", "accumulate"):
        rows = text_collapse(real, real[:200], tok, regime=regime, generations=2, chars=300, steps=20,
                             architecture=arch)
        assert [r["generation"] for r in rows] == [0, 1, 2] and all(r["perplexity"] > 1 for r in rows)
    rare = real + "q"  # q is the real text's one rare character; the validation text holds it twice
    rows = text_collapse(rare, "the cat sat q on the mat. q", Tokenizer.for_text(rare), regime="replace",
                         generations=1, chars=300, steps=20, architecture=arch)
    assert all(r["rare_char_loss"] > r["validation_loss"] > 0 for r in rows)  # q is far less likely than the rest
    assert math.isnan(text_collapse(real, real[:200], tok, regime="replace", generations=0, chars=300, steps=5,
                                    architecture=arch)[0]["rare_char_loss"])  # no rare character to score
    with pytest.raises(ValueError, match="regime"):
        text_collapse(real, real, tok, regime="fresh")
    with pytest.raises(ValueError, match="temperature"):
        text_collapse(real, real, tok, regime="replace", temperature=0.0)


def test_a_cold_sampler_drops_the_tail():
    real = "the cat sat on the mat. a dog ran in the fog. " * 30 + "q"
    arch = dict(context=16, layers=1, width=16, heads=2)
    hot, cold = (text_collapse(real, real[:200], Tokenizer.for_text(real), regime="replace", generations=1, chars=600,
                               steps=60, architecture=arch, temperature=t) for t in (4.0, 0.1))
    assert hot[0]["rare_chars_seen"] == 1.0  # a hot sampler writes the rare q
    assert cold[0]["rare_chars_seen"] == 0.0 and cold[0]["rare_word_share"] < hot[0]["rare_word_share"]
