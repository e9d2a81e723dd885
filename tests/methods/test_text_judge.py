"""Text judges, preference rows, the reward model on text features, best-of-n distillation and the oracle's win rate."""
from __future__ import annotations

import numpy as np

from tutelage.methods.text_critic import load_constitution, sample_texts
from tutelage.methods.text_judge import (FEATURES, ConstitutionJudge, LikelihoodJudge, Oracle, RewardJudge, clone,
                                         improve_text, judge_text_pairs, preference_pairs, train_text_reward, win_rate)
from tutelage.nn.language import LanguageModel, Tokenizer
from tutelage.plugins import get_host
from tutelage.protocols import Judge

TEXT = "The cat (a small one) sat on the mat. It was happy.\n\nA dog ran in the park. The end.\n\n" * 12
PRINCIPLES = load_constitution()


def lm(seed: int, steps: int = 40) -> LanguageModel:
    model = LanguageModel(Tokenizer.for_text(TEXT + "[]{}\"`!?:"), context=32, layers=1, width=16, heads=2, seed=seed)
    model.fit(TEXT, steps=steps, batch_size=8, lr=1e-2, seed=seed)
    return model


def test_judges_follow_the_contract_and_prefer_the_right_text():
    teacher = lm(1)
    good, bad = "The cat sat on the mat.", "The cat (sat on the"
    for judge in (LikelihoodJudge(teacher), ConstitutionJudge(PRINCIPLES)):
        assert isinstance(judge, Judge)
    [verdict] = ConstitutionJudge(PRINCIPLES).judge(["The "], [(good, bad)])
    assert verdict.choice == "first" and verdict.p_first > 0.9
    [verdict] = LikelihoodJudge(teacher).judge(["The "], [(good, "The mmm{[ `` mat!?")])
    assert verdict.choice == "first"
    oracle = Oracle(lm(2), PRINCIPLES)
    assert oracle.compare(good, bad) == 1 and oracle.compare(bad, good) == -1 and oracle.compare(good, good) == 0


def test_samples_end_at_the_boundary():
    texts = sample_texts(lm(3, steps=150), ["The cat"] * 4, 120, seed=0)
    assert all(t.startswith("The cat") and "\n\n" not in t for t in texts)
    assert any(len(t) < len("The cat") + 120 for t in texts)  # the model ended at least one text itself


def test_preferences_reward_model_improvement_and_win_rate():
    start, teacher = lm(4), lm(5, steps=80)
    prompts = ["The cat", "A dog", "It was"] * 6
    pairs = preference_pairs(start, prompts, max_tokens=40, seed=0)
    rows = judge_text_pairs([LikelihoodJudge(teacher), ConstitutionJudge(PRINCIPLES)], prompts, pairs)
    assert len(rows) == len(prompts) and all(r["choice"] in ("first", "second", "tie") for r in rows)
    assert all(0 <= r["p_first"] <= 1 and r["first"] == a for r, (a, _) in zip(rows, pairs))
    model = get_host().registry("model_types").get("mlp").build((len(FEATURES),), 1, hidden=(8,), seed=0)
    reward, report = train_text_reward(model, rows, teacher, epochs=5, seed=0)
    assert report["labels"] == len(rows) and np.isfinite(RewardJudge(reward, teacher).score("The cat sat."))
    improved = clone(start)
    history = improve_text(improved, prompts[:4], reward, teacher, TEXT, PRINCIPLES, n=3, rounds=2, max_tokens=30,
                           steps=20)
    assert [h["round"] for h in history] == [0, 1] and all(h["reward_kept"] >= h["reward_all"] for h in history)
    assert not np.array_equal(improved.gpt.theta, start.gpt.theta)
    result = win_rate(improved, start, prompts[:6], Oracle(teacher, PRINCIPLES), max_tokens=30)
    assert result["wins"] + result["losses"] + result["ties"] == 6 and result["win_rate"].n == 6
