"""The text constitution: each rule finds its violation and its revision keeps the principle; the critic contract."""
from __future__ import annotations

import pytest

from tutelage.errors import SpecError
from tutelage.methods.text_critic import (TextRuleCritic, critique_revise_finetune, keeping, load_constitution,
                                          resample_revisions, violations)
from tutelage.nn.language import LanguageModel, Tokenizer
from tutelage.protocols import Critic

CASES = [
    ("balanced-brackets", "call f(x[0 and stop.", "call f(x[0 and stop.])"),
    ("balanced-brackets", "a) b.", "a b."),
    ("balanced-quotes", 'say "hi.', 'say "hi."'),
    ("no-shouting", "THIS WILL SURELY WORK for sure.", "this will surely work for sure."),
    ("banned-words", "You are an idiot here.", "You are an here."),
    ("no-repetition", "the the the cat.", "the cat."),
    ("sentence-end", "It works. It does not", "It works."),
]


@pytest.mark.parametrize("principle, text, revised", CASES)
def test_each_rule_finds_and_revises(principle, text, revised):
    constitution = load_constitution()
    assert principle in violations(text, constitution)
    [review] = TextRuleCritic(constitution).critique([None], [text], [principle])
    assert not review.ok and review.principle == principle and review.reason and review.method == "rules"
    assert review.revision == revised and review.fixed and not violations(revised, constitution)


def test_clean_text_and_contract():
    critic = TextRuleCritic()
    assert isinstance(critic, Critic)
    assert critic.critique([None], ["All (three) rules hold here."], [])[0].ok
    assert violations("ok AND OK.", load_constitution()) == []  # short capitals are not shouting


def test_bad_constitution_is_named(tmp_path):
    (tmp_path / "c.toml").write_text('[[principle]]\nid = "x"\nrule = "nope"\ntext = "t"\n')
    with pytest.raises(SpecError, match="principle 1: field 'rule' is 'nope'"):
        load_constitution(tmp_path / "c.toml")
    (tmp_path / "d.toml").write_text("name = 'x'\n")
    with pytest.raises(SpecError, match="no \\[\\[principle\\]\\]"):
        load_constitution(tmp_path / "d.toml")


def test_loop_records_rounds():
    text = "A (short) line of text. Another line here. " * 20
    lm = LanguageModel(Tokenizer.for_text(text + "[]{}\"`!?\n"), context=32, layers=1, width=16, heads=2)
    lm.fit(text, steps=30, batch_size=8, lr=1e-2)
    history = critique_revise_finetune(lm, ["A (", "Another "], text, text[:200], rounds=1, samples=6,
                                       max_tokens=12, steps=10)
    assert [h["round"] for h in history] == [0, 1] and all(0 <= h["violation_rate"] <= 1 for h in history)
    [cut] = critique_revise_finetune(lm, ["A (", "Another "], text, text[:200], rounds=0, samples=6, max_tokens=1)
    assert cut["unfinished"] == 1.0 and cut["violation_rate_finished"] is None  # one character never ends a text
    preferred = critique_revise_finetune(lm, ["A (", "Another "], text, text[:200], rounds=1, samples=6,
                                         max_tokens=12, steps=10, preference_steps=5, beta=0.5, preference_lr=1e-3)
    pairs = preferred[0]["preference"]["pairs"]  # DPO on (revision, broken sample) after the fine-tuning
    assert 0 < pairs <= 6 and 0 <= preferred[0]["preference"]["accuracy"] <= 1


def test_resampled_revisions_keep_every_principle():
    text = "A (short) line of text. Another line here.\n\n" * 20
    lm = LanguageModel(Tokenizer.for_text(text + "[]{}\"`!?"), context=32, layers=1, width=16, heads=2)
    lm.fit(text, steps=60, batch_size=8, lr=1e-2)
    critic = TextRuleCritic()
    prompts, texts = ["A (", "Another "], ["A (short line", "Another line here"]
    reviews = critic.critique(prompts, texts, [])
    assert not any(r.ok for r in reviews)
    assert resample_revisions(lm, prompts, reviews, tries=0, max_tokens=40, principles=critic.principles,
                              seed=0) == reviews
    revised = resample_revisions(lm, prompts, reviews, tries=8, max_tokens=40, principles=critic.principles, seed=0)
    searched = [r for r in revised if r.method == "resample"]
    assert searched, "no fresh continuation kept the constitution"
    for prompt, review in zip(prompts, revised):
        if review.method == "resample":
            assert review.fixed and review.revision.startswith(prompt) and not violations(review.revision,
                                                                                          critic.principles)


def test_the_corpus_mixed_in_can_be_limited_to_whole_texts_of_a_samples_length():
    principles = load_constitution()
    corpus = "\n\n".join(["Short and clean.", "A longer paragraph keeps every rule, and it goes on past the limit given to the sampler here.",
                            "Short (but broken.", "Another short one."])
    assert keeping(corpus, principles) == ["Short and clean.", corpus.split("\n\n")[1], "Another short one."]
    assert keeping(corpus, principles, max_chars=20) == ["Short and clean.", "Another short one."]
