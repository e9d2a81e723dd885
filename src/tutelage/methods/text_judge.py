"""Text judges → preference data → a Bradley–Terry reward model → best-of-n distillation of an LM.

Items are whole texts (prompt and continuation, as :func:`sample_texts`
writes them); contexts are the prompts. Judges follow
:class:`tutelage.protocols.Judge` and every pair goes through
:func:`tutelage.judging.judge_pairs` (both presentation orders):

- :class:`LikelihoodJudge`: the mean log-likelihood per character under an LM
  (the teacher);
- :class:`ConstitutionJudge`: the text breaking fewer principles wins;
- :class:`RewardJudge`: a learned judge, the reward model's scores.

The preference label of a pair is the mean ``p_first`` of the panel's judges
(:func:`judge_text_pairs`). The reward model is trained by
:func:`tutelage.methods.reward.train_reward_model` on :func:`features` of each
text. :func:`improve_text` is iterated best-of-n distillation: sample ``n``
continuations per prompt, keep the best by the reward model
(:func:`tutelage.methods.improve.keep`), fine-tune on the kept texts mixed
with corpus paragraphs that keep the constitution.

The :class:`Oracle` no judge reads: exact rule compliance first (fewer broken
principles wins), then the mean log-likelihood per character under a larger
reference LM trained apart from the judges. :func:`win_rate` compares two LMs
on the same prompts and sampling seeds.
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tutelage import stats
from tutelage.judging import judge_pairs, p_first_of
from tutelage.methods.improve import keep
from tutelage.methods.reward import RewardModel, train_reward_model
from tutelage.methods.text_critic import END, Principle, finetune_on, keeping, sample_texts, violations
from tutelage.protocols import Verdict

SHOUT = re.compile(r"\b[A-Z]{4,}\b")
FEATURES = ("teacher_log_likelihood", "length_100", "sentence_end", "ends_stop", "ends_colon", "ends_alnum",
            "paren_balance", "square_balance", "curly_balance", "bracket_imbalance", "odd_double_quotes",
            "odd_backticks", "shouted_share", "repeated_word_share")


class _Scored:
    """A judge from a per-text score: ``p_first = sigmoid(scale × (score(first) − score(second)))``."""

    name = "score"
    scale = 1.0

    def score(self, text: str) -> float:
        raise NotImplementedError

    def judge(self, contexts: list[Any], pairs: list[tuple[str, str]]) -> list[Verdict]:
        out = []
        for a, b in pairs:
            diff = self.score(a) - self.score(b)
            p = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, self.scale * diff))))
            out.append(Verdict("first" if diff > 0 else "second" if diff < 0 else "tie", p, f"{self.name}: {diff:+.3g}"))
        return out


class LikelihoodJudge(_Scored):
    """Prefers the text its LM finds more likely, per character (``scale``: per nat/char)."""

    name = "likelihood"

    def __init__(self, lm: Any, scale: float = 10.0):
        self.lm, self.scale, self._cache = lm, scale, {}

    def score(self, text: str) -> float:
        if text not in self._cache:
            self._cache[text] = mean_log_likelihood(self.lm, text)
        return self._cache[text]


class ConstitutionJudge(_Scored):
    """Prefers the text breaking fewer principles; the same count is a tie."""

    name = "constitution"
    scale = 4.0

    def __init__(self, principles: list[Principle]):
        self.principles = principles

    def score(self, text: str) -> float:
        return -float(len(violations(text, self.principles)))


class RewardJudge(_Scored):
    """A learned judge: a reward model's score of each text's :func:`features`."""

    name = "reward-model"

    def __init__(self, reward: RewardModel, teacher: Any):
        self.reward, self.teacher = reward, teacher

    def score(self, text: str) -> float:
        return float(score_texts(self.reward, self.teacher, [text])[0])


def clone(lm: Any) -> Any:
    """An independent copy of a language model (its θ views survive; ``copy.deepcopy`` would split them)."""
    return type(lm).restore(lm.config(), lm.tensors())


def mean_log_likelihood(lm: Any, text: str) -> float:
    """Mean log-likelihood per token of ``text`` under ``lm`` (its first token given)."""
    return float(-lm.token_losses(text).mean()) if len(text) > 1 else 0.0


def features(text: str, teacher: Any) -> np.ndarray:
    """What the learned judge reads of a text (:data:`FEATURES`): the teacher's mean log-likelihood, length,
    how it ends, bracket and quote balance, capitals and repeated words."""
    words = text.split()
    last = text.rstrip()[-1:] or " "
    balance = [text.count(o) - text.count(c) for o, c in ("()", "[]", "{}")]
    return np.array([mean_log_likelihood(teacher, text), len(text) / 100, bool(END.search(text)), last in ".!?",
                     last == ":", last.isalnum(), *balance, sum(map(abs, balance)), text.count('"') % 2,
                     text.count("`") % 2, len(SHOUT.findall(text)) / max(len(words), 1),
                     1 - len(set(words)) / max(len(words), 1)], np.float32)


@dataclass(frozen=True)
class TextItem:
    """A text as :mod:`tutelage.methods.reward` reads an item: one step of :func:`features`."""

    id: str
    text: str
    vector: np.ndarray
    length: int = 1
    horizon: int = 1

    def steps(self) -> np.ndarray:
        return self.vector[None]


def score_texts(reward: RewardModel, teacher: Any, texts: Sequence[str]) -> np.ndarray:
    return reward.score([TextItem(str(i), t, features(t, teacher)) for i, t in enumerate(texts)])


def judge_text_pairs(panel: Sequence[Any], prompts: Sequence[str], pairs: Sequence[tuple[str, str]]) -> list[dict]:
    """One preference row per pair: each judge's verdict (both orders) and the panel's label, the mean
    ``p_first`` of the judges that did not abstain (an abstention when all did)."""
    per_judge = [judge_pairs(judge, list(prompts), list(pairs)) for judge in panel]
    rows = []
    for i, (prompt, (a, b)) in enumerate(zip(prompts, pairs)):
        ps = [p for p in (p_first_of(j[i].verdict) for j in per_judge) if p is not None]
        p = float(np.mean(ps)) if ps else None
        choice = "abstain" if p is None else "first" if p > 0.5 else "second" if p < 0.5 else "tie"
        row = {"pair_id": f"pair-{i}", "prompt": prompt, "first_id": f"{i}a", "second_id": f"{i}b", "first": a,
               "second": b, "choice": choice, "p_first": p}
        for judge, judged in zip(panel, per_judge):
            row[f"{judge.name}_p_first"] = judged[i].verdict.p_first
            row[f"{judge.name}_flipped"] = judged[i].flipped
        rows.append(row)
    return rows


def train_text_reward(model: Any, rows: Sequence[dict], teacher: Any, **options: Any) -> tuple[RewardModel, dict]:
    """A Bradley–Terry reward model (``model``: one output over :func:`features`) on preference rows."""
    items = {r[f"{k}_id"]: TextItem(r[f"{k}_id"], r[k], features(r[k], teacher)) for r in rows for k in ("first", "second")}
    return train_reward_model(model, rows, items, mode="step", **options)


class Oracle:
    """What no judge reads: fewer broken principles wins, then the higher mean log-likelihood per character
    under the ``reference`` LM (larger than the LM being improved, trained apart from every judge)."""

    def __init__(self, reference: Any, principles: list[Principle]):
        self.reference, self.principles = reference, principles

    def score(self, text: str) -> tuple[int, float]:
        return -len(violations(text, self.principles)), mean_log_likelihood(self.reference, text)

    def compare(self, a: str, b: str) -> int:
        """+1 when ``a`` is better, −1 when ``b`` is, 0 for a tie."""
        sa, sb = self.score(a), self.score(b)
        return (sa > sb) - (sa < sb)


def preference_pairs(lm: Any, prompts: Sequence[str], *, max_tokens: int, seed: int) -> list[tuple[str, str]]:
    """Two continuations of each prompt by ``lm`` (different sampling seeds)."""
    first = sample_texts(lm, list(prompts), max_tokens, seed=seed)
    second = sample_texts(lm, list(prompts), max_tokens, seed=seed + 500_009)
    return list(zip(first, second))


def improve_text(lm: Any, prompts: Sequence[str], reward: RewardModel, teacher: Any, corpus: str,
                 principles: list[Principle], *, n: int = 8, rounds: int = 2, max_tokens: int = 160,
                 steps: int = 200, lr: float = 1e-3, mix: float = 0.5, seed: int = 0) -> list[dict]:
    """Iterated best-of-n distillation of ``lm`` in place; ``prompts`` are shared evenly among the rounds.
    One row per round: the reward of the kept texts and of all samples."""
    rng = np.random.default_rng(seed)
    clean = keeping(corpus, principles) or [corpus]
    history = []
    for round_, chunk in enumerate(np.array_split(np.asarray(prompts, dtype=object), rounds)):
        candidates = [sample_texts(lm, [p] * n, max_tokens, seed=seed * 1_000_003 + round_ * 10_007 + i * n)
                      for i, p in enumerate(chunk)]
        scores = [score_texts(reward, teacher, texts) for texts in candidates]
        kept = [texts[k] for texts, s in zip(candidates, scores) for k in keep(s, "best_of_n", rng)]
        history.append({"round": round_, "prompts": len(chunk), "reward_kept": float(np.mean([s.max() for s in scores])),
                        "reward_all": float(np.mean(np.concatenate(scores))), "example": kept[0]})
        finetune_on(lm, kept, clean, mix=mix, steps=steps, lr=lr, seed=seed + round_, rng=rng)
    return history


def win_rate(improved: Any, start: Any, prompts: Sequence[str], oracle: Oracle, *, max_tokens: int = 160,
             seed: int = 0) -> dict[str, Any]:
    """The oracle's verdict on one continuation of each prompt by each LM, same sampling seed per prompt."""
    ours = sample_texts(improved, list(prompts), max_tokens, seed=seed)
    theirs = sample_texts(start, list(prompts), max_tokens, seed=seed)
    verdicts = [oracle.compare(a, b) for a, b in zip(ours, theirs)]
    wins, losses = verdicts.count(1), verdicts.count(-1)
    ties = len(verdicts) - wins - losses
    broken = [[len(violations(t, oracle.principles)) > 0 for t in texts] for texts in (ours, theirs)]
    return {"wins": wins, "losses": losses, "ties": ties, "win_rate": stats.paired_win_rate(wins, losses, ties),
            "violation_rate": float(np.mean(broken[0])), "start_violation_rate": float(np.mean(broken[1])),
            "examples": [(b, a) for a, b in zip(ours[:3], theirs[:3])]}
