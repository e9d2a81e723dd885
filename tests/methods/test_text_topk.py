"""Offline top-k KD targets: Parquet round trip, parity with online KD, training benefit and bad input."""
import numpy as np
import pytest

from tutelage.errors import DataError, DatasetError
from tutelage.methods.text_topk import read_topk_targets, write_topk_targets
from tutelage.nn.language import LanguageModel, Tokenizer

RNG = np.random.default_rng(0)
WORDS = ["the cat", "a dog", "cats and dogs", "the end."]
TEXT = " ".join(RNG.choice(WORDS, 400))
TOKENIZER = Tokenizer.for_text(TEXT)


def lm(seed=0, **options):
    return LanguageModel(TOKENIZER, seed=seed, **{"context": 16, "layers": 1, "width": 16, "heads": 2, **options})


def test_round_trip_keeps_tokens_and_the_largest_logits(tmp_path):
    teacher = lm()
    text = TEXT[:300]
    info = write_topk_targets(teacher, text, tmp_path / "t.parquet", k=4, corpus={"name": "tiny"}, teacher_id="t1")
    targets = read_topk_targets(tmp_path / "t.parquet", teacher_id="t1")
    assert info["k"] == 4 and targets.provenance["corpus"] == {"name": "tiny"}
    np.testing.assert_array_equal(targets.tokens, TOKENIZER.encode(text))
    logits = teacher.gpt.forward(targets.tokens[None, 16:32])[0]  # the teacher's second window
    np.testing.assert_array_equal(targets.ids[16:32], np.argsort(-logits, -1, kind="stable")[:, :4])
    # stored logits come from a batch of windows, these from one: the GEMMs may round differently (~1e-8)
    np.testing.assert_allclose(targets.logits[16:32], -np.sort(-logits, -1)[:, :4], rtol=1e-5, atol=1e-6)
    assert targets.info["teacher_outputs"]["teacher.logits"] == {"teacher": "t1", "synthetic_depth": 1}


def test_full_vocabulary_offline_kd_matches_online_kd(tmp_path):
    text = TEXT[:17]  # one window of the context: the stored teacher saw exactly what the online teacher sees
    teacher = lm(seed=5)
    write_topk_targets(teacher, text, tmp_path / "t.parquet", k=TOKENIZER.size, teacher_id="t1")
    kd = dict(steps=20, batch_size=4, lr=1e-2, seed=3, temperature=2.0, alpha=0.7)
    online, offline = lm(seed=1), lm(seed=1)
    online.fit(text, teacher=teacher, **kd)
    offline.fit(text, teacher=read_topk_targets(tmp_path / "t.parquet"), **kd)
    width = online.gpt.config.width  # the key biases: softmax ignores them, their gradient is rounding noise
    keys = slice(width, 2 * width)   # that Adam scales up
    for name, value in online.gpt.p.items():
        ours = offline.gpt.p[name]
        if name.endswith("qkv.b"):
            np.testing.assert_allclose(ours[keys], value[keys], atol=1e-4, err_msg=name)
            ours, value = np.delete(ours, keys), np.delete(value, keys)
        np.testing.assert_allclose(ours, value, atol=1e-6, err_msg=name)  # T 2 → 1.9 moves θ by ~1e-3


def markov_text(n, seed=0):
    """A sparse 16-letter Markov chain: most of each next-letter distribution lies in its top 4."""
    rng = np.random.default_rng(seed)
    transitions = rng.dirichlet(np.full(16, 0.1), 16)
    states = [0]
    for _ in range(n - 1):
        states.append(rng.choice(16, p=transitions[states[-1]]))
    return "".join("abcdefghijklmnop"[i] for i in states)


def test_small_k_offline_kd_beats_no_teaching(tmp_path):
    text = markov_text(4000)
    tokenizer = Tokenizer("abcdefghijklmnop")
    options = {"context": 16, "layers": 1, "width": 16, "heads": 2}
    teacher = LanguageModel(tokenizer, seed=0, **{**options, "layers": 2})
    teacher.fit(text[:3000], steps=200, batch_size=16, lr=1e-2, seed=0)
    train, validation = text[:1000], text[3000:]
    write_topk_targets(teacher, train, tmp_path / "t.parquet", k=4, teacher_id="t1")
    common = dict(steps=30, batch_size=8, lr=1e-2, seed=0)
    control, student = LanguageModel(tokenizer, seed=2, **options), LanguageModel(tokenizer, seed=2, **options)
    control.fit(train, **common)
    student.fit(train, teacher=read_topk_targets(tmp_path / "t.parquet"), temperature=1.0, alpha=0.9, **common)
    assert student.loss(validation) < control.loss(validation) - 0.05


def test_bad_input_is_named(tmp_path):
    with pytest.raises(DataError, match="k must be"):
        write_topk_targets(lm(), TEXT[:50], tmp_path / "t.parquet", k=0, teacher_id="t1")
    assert not (tmp_path / "t.parquet").exists()
    write_topk_targets(lm(), TEXT[:50], tmp_path / "t.parquet", k=2, teacher_id="t1")
    with pytest.raises(DatasetError, match="teacher_id.*'t1'.*'t2'"):
        read_topk_targets(tmp_path / "t.parquet", teacher_id="t2")
    with pytest.raises(DataError, match="not the text"):
        lm().fit(TEXT[50:100], steps=1, teacher=read_topk_targets(tmp_path / "t.parquet"))
