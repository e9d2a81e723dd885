"""Token- and sequence-level text distillation on a tiny corpus: the arms run, the temperature is picked on validation."""
from __future__ import annotations

import numpy as np
import pytest

from tutelage.errors import DataError
from tutelage.methods.text_kd import distill_text, teacher_samples, token_arm
from tutelage.nn.language import LanguageModel, Tokenizer, teacher_probs

TEXT = "the quick brown fox jumps over the lazy dog. " * 30


def test_teacher_probs_keep_top_k():
    logits = np.array([[[0.0, 1.0, 2.0, 3.0]]], np.float32)
    p = teacher_probs(logits, 1.0, top_k=2)
    assert p[0, 0, :2].sum() == 0 and p.sum() == pytest.approx(1.0)
    assert teacher_probs(logits, 100.0).std() < 0.01  # high temperature: nearly uniform


def test_distillation_arms_and_choice():
    tok = Tokenizer.for_text(TEXT)
    teacher = LanguageModel(tok, context=16, layers=1, width=32, heads=2, seed=9)
    teacher.fit(TEXT, steps=150, batch_size=8, lr=1e-2)
    splits = {"train": TEXT, "validation": TEXT[:300], "test": TEXT[300:600]}
    result = distill_text(teacher, splits, dict(context=16, layers=1, width=8, heads=1), seeds=2, steps=40,
                          batch_size=8, lr=1e-2, temperatures=(1.0, 3.0), alphas=(0.5, 1.0), sequence_chars=400)
    arms = [token_arm(t, a) for t in (1.0, 3.0) for a in (0.5, 1.0)]
    assert set(result.validation) == {"corpus", "sequence", *arms}
    chosen = token_arm(result.temperature, result.alpha)
    assert np.mean(result.validation[chosen]) == min(np.mean(result.validation[arm]) for arm in arms)
    assert all(len(v) == 2 for v in result.test.values()) and result.summary["token_gap_closed"].n == 2
    assert len(teacher_samples(teacher, TEXT, 100, seed=1)) == 96  # pieces of context − prompt


def test_teacher_must_share_the_tokenizer():
    student = LanguageModel(Tokenizer("ab"), context=4, layers=1, width=4, heads=1)
    with pytest.raises(DataError, match="share a tokenizer"):
        student.fit("abab", steps=1, teacher=LanguageModel(Tokenizer("abc"), context=4, layers=1, width=4, heads=1))


def test_offline_top_k_arms_run_from_stored_logits():
    tok = Tokenizer.for_text(TEXT)
    teacher = LanguageModel(tok, context=16, layers=1, width=16, heads=2, seed=9)
    splits = {"train": TEXT, "validation": TEXT[:300], "test": TEXT[300:600]}
    options = dict(seeds=1, steps=10, batch_size=4, lr=1e-2, temperatures=(2.0,), sequence_chars=100)
    student = dict(context=16, layers=1, width=8, heads=1)
    offline = distill_text(teacher, splits, student, offline_top_k=tok.size, **options)
    online = distill_text(teacher, splits, student, **options)
    assert offline.validation["corpus"] == online.validation["corpus"]
    assert offline.validation[token_arm(2.0, 0.5)] == pytest.approx(online.validation[token_arm(2.0, 0.5)], abs=0.02)
