"""Direct preference optimization (DPO) of a Gaussian policy against a frozen reference, in the core.

The policy is ``N(μ_θ(s), σ² I)`` with a fixed ``σ``; a trajectory's log-likelihood
``log π(τ) = Σ_t log N(a_t; μ_θ(s_t), σ²)`` comes from the core's Gaussian NLL
(``gaussian_nll``, one call per trajectory, which also gives ``∂/∂μ``). For a
pair with label ``p`` (the probability that the first is better: 1, 0, 0.5 for
a tie, or soft) the loss is the DPO loss (Rafailov et al. 2023)::

    h = β · [(log π(τ₁) − log π_ref(τ₁)) − (log π(τ₂) − log π_ref(τ₂))]
    L = −p · log σ(h) − (1 − p) · log σ(−h)

and ``∂L/∂μ`` is backpropagated through the policy's model with the core's
optimizer. :func:`dpo_loss` is the numpy-checked loss of one batch.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tutelage.errors import DataError


def log_likelihood(mean: np.ndarray, actions: np.ndarray, sigma: float) -> tuple[float, np.ndarray]:
    """``log π(τ)`` of one trajectory's actions ``(T, k)`` under ``N(mean, σ²)``, and its gradient in
    ``mean``, from the core's Gaussian NLL."""
    from tutelage.nn import losses

    rows, k = actions.shape
    pred = np.concatenate([mean, np.full_like(mean, math.log(sigma))], axis=1).astype(np.float32)
    value, grad = losses.get("gaussian_nll")(pred, actions.astype(np.float32))
    return -float(value) * rows * k, -grad[:, :k].astype(np.float64) * rows * k


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


def dpo_loss(means: Sequence[np.ndarray], actions: Sequence[np.ndarray], reference: np.ndarray, p_first: np.ndarray,
             *, beta: float, sigma: float) -> tuple[float, list[np.ndarray], np.ndarray]:
    """Mean DPO loss of ``N`` pairs; ``means`` and ``actions`` list the ``2N`` trajectories (pair ``i`` is
    items ``2i`` and ``2i + 1``), ``reference`` their reference log-likelihoods ``(2N,)``. Returns the loss,
    ``∂L/∂mean`` per trajectory, and each pair's implicit reward margin ``h``."""
    n = len(p_first)
    logp, grads = zip(*(log_likelihood(m, a, sigma) for m, a in zip(means, actions)))
    ratio = np.asarray(logp) - reference
    h = beta * (ratio[0::2] - ratio[1::2])
    value = float(np.mean(-p_first * _log_sigmoid(h) - (1.0 - p_first) * _log_sigmoid(-h)))
    dh = (1.0 / (1.0 + np.exp(-h)) - p_first) / n
    out = []
    for i, g in enumerate(grads):
        out.append(g * (dh[i // 2] * beta * (1.0 if i % 2 == 0 else -1.0)))
    return value, out, h


def dpo(policy: Any, pairs: Sequence[tuple[Any, Any]], p_first: Sequence[float], *, reference: Any = None,
        beta: float = 0.05, sigma: float = 0.1, epochs: int = 10, lr: float = 1e-4, batch_size: int = 16,
        seed: int = 0) -> tuple[Any, dict[str, Any]]:
    """A copy of ``policy`` (a model) trained with DPO on ``pairs`` of trajectories (``observations``,
    ``actions``) and their labels against the frozen ``reference`` (default: ``policy`` itself); returns
    it and a report (loss per epoch, share of strict pairs whose implicit reward margin agrees)."""
    from tutelage.nn import optim

    p = np.asarray(p_first, dtype=np.float64)
    if len(pairs) == 0 or len(p) != len(pairs) or not np.all((p >= 0) & (p <= 1)):
        raise DataError(f"dpo: need one label in [0, 1] per pair, got {len(p)} labels for {len(pairs)} pairs")
    items = [t for pair in pairs for t in pair]
    frozen = policy if reference is None else reference
    reference = np.array([log_likelihood(frozen.forward(t.observations), t.actions, sigma)[0] for t in items])
    current = policy.copy()
    opt = optim.get("adam", lr)
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(epochs):
        total = 0.0
        for batch in np.array_split(rng.permutation(len(pairs)), max(1, math.ceil(len(pairs) / batch_size))):
            chosen = [2 * i + j for i in batch for j in (0, 1)]
            X = np.concatenate([items[c].observations for c in chosen])
            ends = np.cumsum([items[c].length for c in chosen])[:-1]
            current.zero_grad()
            means = np.split(current.forward(X, training=True).astype(np.float64), ends)
            value, grads, _ = dpo_loss(means, [items[c].actions for c in chosen], reference[chosen], p[batch],
                                       beta=beta, sigma=sigma)
            current.backward(np.concatenate(grads).astype(np.float32), input_grad=False)
            opt.step(current)
            total += value * len(batch)
        losses.append(total / len(pairs))
    means = [current.forward(t.observations).astype(np.float64) for t in items]
    _, _, h = dpo_loss(means, [t.actions for t in items], reference, p, beta=beta, sigma=sigma)
    strict = p != 0.5
    agree = float(np.mean((h[strict] > 0) == (p[strict] > 0.5))) if strict.any() else math.nan
    return current, {"loss": losses, "pairs": len(pairs), "margin_accuracy": agree}
