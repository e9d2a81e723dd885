"""DPO on a language model: the gradient against finite differences, and training that ranks the pairs."""
from __future__ import annotations

import numpy as np
import pytest

from tutelage.errors import DataError
from tutelage.methods.lm_dpo import dpo_batch, dpo_lm, log_likelihoods
from tutelage.nn.language import LanguageModel, Tokenizer

TEXT = "the cat sat. the dog ran! a cat ran. "


def tiny(seed: int = 0) -> LanguageModel:
    return LanguageModel(Tokenizer.for_text(TEXT), context=8, layers=1, width=16, heads=2, seed=seed)


def test_log_likelihoods_are_those_of_the_continuation_only():
    lm = tiny()
    pairs = [("the c", "at sat. the dog ran!", "at ran.")]  # the first continuation spans three windows
    whole = lm.token_losses("the cat sat. the dog ran!")
    prompt = lm.token_losses("the c")
    assert log_likelihoods(lm, pairs)[0, 0] == pytest.approx(-(whole.sum() - prompt.sum()), rel=1e-5)


def test_dpo_gradient_matches_finite_differences():
    lm, reference = tiny(0), tiny(1)
    pairs = [("the ", "cat sat.", "dog ran!"), ("a ", "cat ran.", "the dog sat. the cat ran!")]
    ref = log_likelihoods(reference, pairs)
    p = np.array([1.0, 0.3])
    lm.gpt.zero_grad()
    dpo_batch(lm, pairs, ref, p, beta=0.5)
    grad = lm.gpt.grad.astype(np.float64).copy()
    direction = np.random.default_rng(0).standard_normal(grad.size)
    direction /= np.linalg.norm(direction)
    theta, eps, values = lm.gpt.theta.copy(), 1e-2, []
    for sign in (1, -1):
        lm.gpt.theta[...] = theta + sign * eps * direction
        values.append(dpo_batch(lm, pairs, ref, p, beta=0.5)[0])
    lm.gpt.theta[...] = theta
    assert (values[0] - values[1]) / (2 * eps) == pytest.approx(grad @ direction, rel=0.03)


def test_dpo_ranks_the_chosen_above_the_rejected_and_the_anchor_keeps_the_text():
    lm = tiny()
    lm.fit(TEXT * 20, steps=150, batch_size=8, lr=1e-2, seed=0)
    pairs = [("the ", "cat sat.", "cat ran!"), ("a ", "dog sat.", "dog ran!")]
    before = log_likelihoods(lm, pairs)
    loss_before = lm.loss(TEXT * 3)
    history = dpo_lm(lm, pairs, steps=40, batch_size=2, beta=0.5, lr=3e-3, anchor_text=TEXT * 20, seed=0)
    after = log_likelihoods(lm, pairs)
    assert np.all(after[:, 0] - after[:, 1] > before[:, 0] - before[:, 1] + 1.0)  # preferred by a wider margin
    assert history[-1]["accuracy"] == 1.0 and history[-1]["loss"] < history[0]["loss"]
    assert lm.loss(TEXT * 3) < loss_before + 0.1


def test_dpo_refuses_bad_input():
    lm = tiny()
    with pytest.raises(DataError, match="at least one"):
        dpo_lm(lm, [])
    with pytest.raises(DataError, match="p_first"):
        dpo_lm(lm, [("the ", "cat.", "dog!")], p_first=[1.5])
    with pytest.raises(DataError, match="continuation is empty"):
        dpo_lm(lm, [("the ", "", "dog!")])
