"""Model collapse on text: each generation of LM trains on text written by the previous one.

Regimes: ``replace`` (generation g trains only on generation g−1's samples)
and ``accumulate`` (on the real text plus every generation's samples so far).
Per generation: validation loss and perplexity on real held-out text and the
mean loss on its rare characters (those below ``rare_share`` of the real
training text: the model's tail, which rises as they vanish); in the samples,
the share of rare characters, the share of the distinct rare characters seen
at all, and the share of rare words (outside the real text's
``common_words`` most frequent words). Each generation writes its samples
at ``temperature`` (1: the model's own distribution; below 1, as deployed
samplers often run, the tails are cut at every generation).
"""
from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

import numpy as np

from tutelage.methods.text_kd import teacher_samples
from tutelage.nn.language import LanguageModel, Tokenizer

REGIMES = ("replace", "accumulate")
WORD = re.compile(r"[A-Za-z]+")


def rarity(real: str, rare_share: float = 1e-3, common_words: int = 1000) -> tuple[set[str], set[str]]:
    """The real text's rare characters and its common words (lower case)."""
    chars = Counter(real)
    rare = {ch for ch, n in chars.items() if n / len(real) < rare_share}
    words = Counter(w.lower() for w in WORD.findall(real))
    return rare, {w for w, _ in words.most_common(common_words)}


def text_stats(text: str, rare_chars: set[str], common: set[str]) -> dict[str, float]:
    """Shares of rare characters and of rare words in ``text``, and the share of the distinct rare characters
    that appear in it at all (the tail's support: it falls as rare characters vanish)."""
    words = [w.lower() for w in WORD.findall(text)]
    return {"rare_char_share": sum(ch in rare_chars for ch in text) / max(len(text), 1),
            "rare_word_share": sum(w not in common for w in words) / max(len(words), 1),
            "rare_chars_seen": len(rare_chars & set(text)) / max(len(rare_chars), 1)}


def text_collapse(real: str, validation: str, tokenizer: Tokenizer, *, regime: str, generations: int = 5,
                  chars: int = 50_000, steps: int = 300, seed: int = 0, architecture: dict[str, Any] | None = None,
                  lr: float = 3e-3, temperature: float = 1.0) -> list[dict]:
    """One chain of ``generations + 1`` models (generation 0 on real text); one row per generation."""
    if regime not in REGIMES:
        raise ValueError(f"regime must be one of {REGIMES}, got {regime!r}")
    if not temperature > 0.0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    arch = {"context": 64, "layers": 2, "width": 64, "heads": 4, **(architecture or {})}
    rare_chars, common = rarity(real)
    data, pool, rows = real[:chars], real[:chars], []
    for generation in range(generations + 1):
        lm = LanguageModel(tokenizer, seed=seed * 1000 + generation, **arch)
        lm.fit(data, steps=steps, lr=lr, seed=seed * 1000 + generation)
        samples = teacher_samples(lm, data, chars, seed=seed * 1000 + generation, temperature=temperature)
        losses = lm.token_losses(validation)  # one token per character: losses[i] is that of validation[i + 1]
        rare_next = np.fromiter((ch in rare_chars for ch in validation[1:]), bool, len(validation) - 1)
        rows.append({"regime": regime, "seed": seed, "generation": generation,
                     "validation_loss": float(losses.mean()), "perplexity": math.exp(losses.mean()),
                     "rare_char_loss": float(losses[rare_next].mean()) if rare_next.any() else math.nan,
                     **text_stats(samples, rare_chars, common), "example": samples[:120]})
        pool = pool + samples
        data = samples if regime == "replace" else pool
    return rows
