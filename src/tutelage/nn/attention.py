"""Sequence operations on the core: causal multi-head self-attention (batch and KV-cache step) and token losses.

Each function checks its inputs (a :class:`~tutelage.errors.DataError` naming
the argument) and calls the C kernels of :mod:`tutelage._core.sequence`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tutelage._core import sequence as _s
from tutelage.errors import DataError


def _f32(array: Any, name: str, ndim: int) -> np.ndarray:
    out = np.ascontiguousarray(array, dtype=np.float32)
    if out.ndim != ndim:
        raise DataError(f"{name} must have {ndim} dimensions, got shape {out.shape}")
    return out


def _split(qkv: np.ndarray, heads: int) -> int:
    if qkv.shape[-1] % 3 or (qkv.shape[-1] // 3) % heads or heads < 1:
        raise DataError(f"qkv's last dimension ({qkv.shape[-1]}) must be 3 × d with d divisible by heads ({heads})")
    return qkv.shape[-1] // 3


def causal_attention(qkv: Any, heads: int) -> tuple[np.ndarray, np.ndarray]:
    """``(batch, time, 3d)`` rows ``[q | k | v]`` → output ``(batch, time, d)`` and the saved probabilities."""
    x = _f32(qkv, "qkv", 3)
    d = _split(x, heads)
    b, t = x.shape[:2]
    out = np.empty((b, t, d), np.float32)
    probs = np.empty((b, heads, t, t), np.float32)
    _s.causal_attention_forward(x, out, probs, b, t, heads)
    return out, probs


def causal_attention_backward(qkv: np.ndarray, probs: np.ndarray, dout: Any, heads: int,
                              scratch: np.ndarray | None = None) -> np.ndarray:
    """The gradient w.r.t. ``qkv`` of :func:`causal_attention` (``probs`` from the forward pass)."""
    b, t, d3 = qkv.shape
    dy = _f32(dout, "dout", 3)
    if dy.shape != (b, t, d3 // 3):
        raise DataError(f"dout must have shape {(b, t, d3 // 3)}, got {dy.shape}")
    dqkv = np.empty_like(qkv)
    if scratch is None or scratch.size != t * t:
        scratch = np.empty(t * t, np.float32)
    _s.causal_attention_backward(qkv, probs, dy, dqkv, scratch, b, t, heads)
    return dqkv


class KVCache:
    """Keys and values of the positions seen so far, for one sequence and one attention layer."""

    def __init__(self, capacity: int, width: int):
        self.keys = np.zeros((capacity, width), np.float32)
        self.values = np.zeros((capacity, width), np.float32)
        self.scores = np.empty(capacity, np.float32)
        self.length = 0

    def step(self, qkv: np.ndarray, heads: int, out: np.ndarray) -> np.ndarray:
        """Attend one new ``[q | k | v]`` row (float32, 3·width) over the cache plus itself; writes ``out``."""
        if self.length >= len(self.keys):
            raise DataError(f"the KV cache holds {len(self.keys)} positions; the sequence is longer")
        _s.attention_step(qkv, self.keys, self.values, out, self.scores, self.length, heads)
        self.length += 1
        return out


def sequence_cross_entropy(logits: Any, targets: Any) -> tuple[float, np.ndarray]:
    """Mean next-token NLL over ``(…, vocab)`` logits and integer ``targets`` of the leading shape; and d logits."""
    z = np.ascontiguousarray(logits, dtype=np.float32)
    ids = np.ascontiguousarray(targets, dtype=np.float32)
    if z.ndim < 2 or ids.shape != z.shape[:-1]:
        raise DataError(f"targets must have shape {z.shape[:-1]} for logits of shape {z.shape}")
    rows, vocab = ids.size, z.shape[-1]
    grad = np.empty_like(z)
    value = _s.sequence_cross_entropy(z, ids, grad, rows, vocab)
    if value < 0:
        raise DataError(f"targets at flat position {int(-value - 1)} is not an integer id below {vocab}")
    return value, grad


def soft_cross_entropy(logits: Any, probs: Any, temperature: float = 1.0) -> tuple[float, np.ndarray]:
    """Token distillation: mean ``−Σ p·log softmax(logits/T)`` and its gradient × T²."""
    z = np.ascontiguousarray(logits, dtype=np.float32)
    p = np.ascontiguousarray(probs, dtype=np.float32)
    if p.shape != z.shape or z.ndim < 2:
        raise DataError(f"probs must have the logits' shape {z.shape}, got {p.shape}")
    if not temperature > 0:
        raise DataError(f"temperature must be positive, got {temperature}")
    grad = np.empty_like(z)
    value = _s.soft_cross_entropy(z, p, grad, z.size // z.shape[-1], z.shape[-1], float(temperature))
    return value, grad
