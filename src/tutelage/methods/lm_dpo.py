"""Direct preference optimization (DPO) of a language model against a frozen reference.

A pair is ``(prompt, chosen, rejected)``: two continuations of one prompt, the
first preferred. ``log π(y | x)`` sums the model's log-probabilities of the
continuation's tokens, read in context-length windows as
:meth:`~tutelage.nn.language.LanguageModel.log_prob` reads a text. For a pair
with label ``p`` (the probability that ``chosen`` is the better: 1 for a hard
label) the loss is Rafailov et al. (2023)'s::

    h = β · [(log π(y_w|x) − log π_ref(y_w|x)) − (log π(y_l|x) − log π_ref(y_l|x))]
    L = −p · log σ(h) − (1 − p) · log σ(−h)

With ``anchor_text`` each step also adds ``anchor`` × the next-token loss on a
batch of its windows: DPO alone may lower the likelihood of both continuations
and with it the likelihood of real text.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tutelage.errors import DataError

Pair = tuple[str, str, str]


def _windows(lm: Any, prompt: str, continuation: str) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, mask)``: the text in windows of ``context + 1`` tokens (the last padded) and which predicted
    tokens belong to the continuation."""
    ids = lm.tokenizer.encode(prompt + continuation)
    first, t = len(lm.tokenizer.encode(prompt)), lm.context
    if ids.size <= max(first, 1):
        raise DataError(f"a pair's continuation is empty (prompt {prompt[:30]!r})")
    starts = range(0, ids.size - 1, t)
    rows = np.zeros((len(starts), t + 1), dtype=np.int64)
    mask = np.zeros((len(starts), t), dtype=bool)
    for i, s in enumerate(starts):
        piece = ids[s:s + t + 1]
        rows[i, :piece.size] = piece
        target = s + 1 + np.arange(piece.size - 1)  # positions in ids of the tokens this window predicts
        mask[i, :piece.size - 1] = target >= first
    return rows, mask


def _stack(lm: Any, texts: Sequence[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The windows of several (prompt, continuation) texts, their masks and the text each window belongs to."""
    parts = [_windows(lm, prompt, continuation) for prompt, continuation in texts]
    owner = np.concatenate([np.full(len(rows), i) for i, (rows, _) in enumerate(parts)])
    return np.concatenate([rows for rows, _ in parts]), np.concatenate([mask for _, mask in parts]), owner


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    top = logits.max(-1, keepdims=True)
    return logits - (np.log(np.exp(logits - top).sum(-1, keepdims=True)) + top)


def _forward(lm: Any, texts: Sequence[tuple[str, str]]) -> tuple[np.ndarray, Any]:
    """Each text's continuation log-likelihood, and what :func:`_backward` needs."""
    rows, mask, owner = _stack(lm, texts)
    logp = _log_softmax(lm.gpt.forward(rows[:, :-1]).astype(np.float64))
    picked = np.take_along_axis(logp, rows[:, 1:, None], -1)[..., 0] * mask
    return np.bincount(owner, weights=picked.sum(1), minlength=len(texts)), (rows, mask, owner, logp)


def _backward(lm: Any, cache: Any, coefficient: np.ndarray) -> None:
    """Accumulate Σ_i coefficient[i] · ∂ log π(text i) / ∂θ into the model's gradient."""
    rows, mask, owner, logp = cache
    grad = -np.exp(logp)
    np.put_along_axis(grad, rows[:, 1:, None], np.take_along_axis(grad, rows[:, 1:, None], -1) + 1.0, -1)
    grad *= (mask * coefficient[owner][:, None])[..., None]
    lm.gpt.backward(grad.astype(np.float32))


def log_likelihoods(lm: Any, pairs: Sequence[Pair], batch_size: int = 16) -> np.ndarray:
    """``(n, 2)``: log π(chosen | prompt) and log π(rejected | prompt) of every pair."""
    out = np.empty((len(pairs), 2))
    for i in range(0, len(pairs), batch_size):
        batch = pairs[i:i + batch_size]
        values, _ = _forward(lm, [(p, c) for p, c, _ in batch] + [(p, r) for p, _, r in batch])
        out[i:i + len(batch)] = values.reshape(2, -1).T
    return out


def dpo_batch(lm: Any, batch: Sequence[Pair], reference: np.ndarray, p_first: np.ndarray, beta: float
              ) -> tuple[float, np.ndarray]:
    """The mean DPO loss of ``batch`` (``reference``: its ``(n, 2)`` log-likelihoods under the reference) and
    each pair's ``h``; accumulates the loss's gradient into the model's."""
    values, cache = _forward(lm, [(p, c) for p, c, _ in batch] + [(p, r) for p, _, r in batch])
    chosen, rejected = values.reshape(2, -1)
    h = beta * ((chosen - reference[:, 0]) - (rejected - reference[:, 1]))
    loss = float(np.mean(p_first * np.logaddexp(0.0, -h) + (1 - p_first) * np.logaddexp(0.0, h)))
    dh = (1.0 / (1.0 + np.exp(-h)) - p_first) * beta / len(batch)  # ∂L/∂ log π(chosen); the rejected's is −dh
    _backward(lm, cache, np.concatenate([dh, -dh]))
    return loss, h


def dpo_lm(lm: Any, pairs: Sequence[Pair], *, p_first: Sequence[float] | None = None, reference: Any = None,
           steps: int = 100, batch_size: int = 8, beta: float = 0.1, lr: float = 1e-4, clip: float = 1.0,
           anchor_text: str | None = None, anchor: float = 1.0, seed: int = 0) -> list[dict]:
    """Train ``lm`` in place by DPO on ``pairs`` (``reference``: a frozen LM, default a copy of ``lm`` as it
    starts); returns one row per step (DPO loss, mean margin ``h/β``, share of pairs ranked right)."""
    from tutelage.nn.attention import sequence_cross_entropy
    from tutelage.nn.language import LanguageModel
    from tutelage.nn.optim import Adam, clip_grad_norm

    if not pairs:
        raise DataError("DPO needs at least one preference pair")
    if beta <= 0:
        raise ValueError(f"beta must be positive, got {beta}")
    labels = np.ones(len(pairs)) if p_first is None else np.asarray(p_first, dtype=np.float64)
    if labels.shape != (len(pairs),) or np.any((labels < 0) | (labels > 1)):
        raise DataError(f"p_first must hold one probability in [0, 1] per pair ({len(pairs)})")
    if reference is None:
        reference = LanguageModel(lm.tokenizer, **{k: lm.config()[k] for k in ("context", "layers", "width", "heads")},
                                  theta=lm.gpt.theta.copy())
    ref = log_likelihoods(reference, pairs)
    anchor_ids = lm.tokenizer.encode(anchor_text) if anchor_text else None
    rng = np.random.default_rng(seed)
    optimizer = Adam(lr)
    history = []
    for step in range(steps):
        pick = rng.choice(len(pairs), size=min(batch_size, len(pairs)), replace=False)
        lm.gpt.zero_grad()
        loss, h = dpo_batch(lm, [pairs[i] for i in pick], ref[pick], labels[pick], beta)
        if anchor_ids is not None:
            t = min(lm.context, anchor_ids.size - 1)
            starts = rng.integers(0, anchor_ids.size - t, batch_size)
            window = anchor_ids[starts[:, None] + np.arange(t + 1)]
            _, grad = sequence_cross_entropy(lm.gpt.forward(window[:, :-1]), window[:, 1:])
            lm.gpt.backward(anchor * grad)
        if clip:
            clip_grad_norm(lm.gpt, clip)
        optimizer.step(lm.gpt)
        history.append({"step": step + 1, "loss": loss, "margin": float(np.mean(h) / beta),
                        "accuracy": float(np.mean(h > 0))})
    return history
