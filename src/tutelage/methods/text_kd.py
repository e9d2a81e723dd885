"""Text distillation: a teacher LM teaches a small student by token-level and by sequence-level KD.

Arms, each trained from the same initialization per seed on the same number
of steps: ``corpus`` (the student on the training text alone), ``token``
(the teacher's softened next-token distribution mixed with the true next
token, one arm per temperature and KD weight ``alpha``) and ``sequence`` (the student trained on the
teacher's samples). The temperature and ``alpha`` are chosen on validation (mean over
seeds); test is read once, for the chosen arms. ``gap_closed`` is
``(corpus − token) / (corpus − teacher)`` on test, per seed.
"""
from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tutelage import stats
from tutelage.nn.language import LanguageModel


@dataclass
class TextKDResult:
    """Per-seed losses (nats/char) by arm on validation and test, the chosen temperature and the summary."""

    validation: dict[str, list[float]]
    test: dict[str, list[float]]
    temperature: float
    alpha: float
    teacher: dict[str, float]
    summary: dict[str, Any] = field(default_factory=dict)


def teacher_samples(teacher: LanguageModel, text: str, chars: int, seed: int, temperature: float = 1.0) -> str:
    """About ``chars`` characters the teacher writes, in pieces that each fit its context, from prompts of ``text``."""
    rng = np.random.default_rng(seed)
    prompt_len = 8
    piece = teacher.context - prompt_len
    pieces = []
    for i in range(max(1, chars // piece)):
        start = int(rng.integers(0, len(text) - prompt_len))
        pieces.append(teacher.generate(text[start:start + prompt_len], piece, temperature=temperature,
                                       seed=seed * 1_000_003 + i))
    return "".join(pieces)


def offline_labels(teacher: LanguageModel, text: str, k: int) -> Any:
    """The teacher's top-``k`` logits over ``text``, through a temporary Parquet file."""
    from tutelage.methods.text_topk import read_topk_targets, write_topk_targets

    with tempfile.TemporaryDirectory() as tmp:
        write_topk_targets(teacher, text, Path(tmp) / "topk.parquet", k=k, teacher_id="teacher")
        return read_topk_targets(Path(tmp) / "topk.parquet")


def token_arm(temperature: float, alpha: float) -> str:
    return f"token T={temperature:g} a={alpha:g}"


def distill_text(teacher: LanguageModel, splits: dict[str, str], student: dict[str, Any], *, seeds: int = 3,
                 steps: int = 1000, batch_size: int = 16, lr: float = 3e-3,
                 temperatures: Sequence[float] = (1.0, 2.0, 4.0), alphas: Sequence[float] = (0.5,), top_k: int = 0,
                 sequence_chars: int = 100_000, offline_top_k: int = 0) -> TextKDResult:
    """Train every arm for ``seeds`` seeds; ``student`` holds the student's architecture options. With
    ``offline_top_k > 0`` the token arms read the teacher's top-k logits, stored once over the training text
    (:mod:`tutelage.methods.text_topk`), instead of running the teacher."""
    train = teacher.tokenizer.encode(splits["train"])
    labels = offline_labels(teacher, splits["train"], offline_top_k) if offline_top_k else teacher
    samples = teacher.tokenizer.encode(teacher_samples(teacher, splits["train"], sequence_chars, seed=0))
    common = dict(steps=steps, batch_size=batch_size, lr=lr)
    arms: dict[str, list[LanguageModel]] = {}

    def trained(arm: str, seed: int, text: np.ndarray, **kd: Any) -> None:
        model = LanguageModel(teacher.tokenizer, seed=seed, **student)
        model.fit(text, seed=seed, **common, **kd)
        arms.setdefault(arm, []).append(model)

    for seed in range(seeds):
        trained("corpus", seed, train)
        trained("sequence", seed, samples)
        for t in temperatures:
            for a in alphas:
                trained(token_arm(t, a), seed, train, teacher=labels, temperature=t, alpha=a, top_k=top_k)
    validation = {arm: [m.loss(splits["validation"]) for m in models] for arm, models in arms.items()}
    best_t, best_a = min(((t, a) for t in temperatures for a in alphas),
                         key=lambda ta: float(np.mean(validation[token_arm(*ta)])))
    chosen = {"corpus": "corpus", "sequence": "sequence", "token": token_arm(best_t, best_a)}
    test = {name: [m.loss(splits["test"]) for m in arms[arm]] for name, arm in chosen.items()}
    teacher_losses = {split: teacher.loss(splits[split]) for split in ("validation", "test")}
    result = TextKDResult(validation, test, best_t, best_a, teacher_losses)
    result.summary = summarize(result)
    return result


def summarize(result: TextKDResult) -> dict[str, Any]:
    """Mean test loss per arm with 95 % intervals, and the share of the teacher–student gap each KD arm closes."""
    teacher = result.teacher["test"]
    corpus = np.array(result.test["corpus"])
    out: dict[str, Any] = {"temperature": result.temperature, "alpha": result.alpha, "teacher_test": teacher}
    for arm, losses in result.test.items():
        out[f"{arm}_test"] = stats.mean_interval(losses)
        if arm != "corpus":
            out[f"{arm}_gap_closed"] = stats.mean_interval((corpus - np.array(losses)) / (corpus - teacher))
    return out
