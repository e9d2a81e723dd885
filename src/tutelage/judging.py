"""Honest judging: both presentation orders, failures as abstentions, position bias measured.

Any :class:`~tutelage.protocols.Judge` goes through :func:`judge_pairs`: every
pair is judged as ``(a, b)`` and as ``(b, a)``; the second verdict is mapped
back to the first frame (first <-> second, ``p_first -> 1 - p_first``; a tie
stays a tie and an abstention stays an abstention, never a preference) and the
two are combined. A judge that raises, returns the wrong count or returns
something that is not a :class:`Verdict` abstains on the pairs concerned; the
other pairs are kept. :func:`rank` orders n candidates with the same judge and
the same contract (round-robin of honest pairwise verdicts).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tutelage.protocols import Verdict

TIE_BAND = 1e-9
PREFERENCE = {"first": 1.0, "second": 0.0, "tie": 0.5}


@dataclass(frozen=True)
class JudgedPair:
    """One pair judged in both orders: the combined ``verdict``, the raw ``forward`` verdict (a, b),
    the raw ``backward`` verdict (b, a) in its own frame, and whether the two disagree (a position flip)."""

    verdict: Verdict
    forward: Verdict
    backward: Verdict

    @property
    def flipped(self) -> bool:
        """True when the two orders disagree about which item is better (abstentions never flip)."""
        a, b = self.forward.choice, swap(self.backward).choice
        return "abstain" not in (a, b) and a != b

    @property
    def abstained(self) -> bool:
        return self.verdict.choice == "abstain"


def abstain(reason: str) -> Verdict:
    return Verdict("abstain", None, reason)


def p_first_of(verdict: Verdict) -> float | None:
    """P(first is better) of a verdict: its ``p_first``, else 1 / 0 / 0.5 from its choice; None for an abstention."""
    if verdict.choice == "abstain":
        return None
    return float(verdict.p_first) if verdict.p_first is not None else PREFERENCE[verdict.choice]


def choice_of(p_first: float) -> str:
    if p_first > 0.5 + TIE_BAND:
        return "first"
    if p_first < 0.5 - TIE_BAND:
        return "second"
    return "tie"


def swap(verdict: Verdict) -> Verdict:
    """A verdict on ``(b, a)`` expressed for ``(a, b)``; an abstention stays an abstention (TRL turned -1 into 2)."""
    if verdict.choice == "abstain":
        return verdict
    choice = {"first": "second", "second": "first", "tie": "tie"}[verdict.choice]
    p = None if verdict.p_first is None else 1.0 - float(verdict.p_first)
    return Verdict(choice, p, verdict.reason)


def combine(forward: Verdict, backward: Verdict) -> Verdict:
    """The verdict of both orders (``backward`` in its own frame): the mean ``p_first``; an abstention in
    either order makes the pair an abstention."""
    back = swap(backward)
    if "abstain" in (forward.choice, back.choice):
        reasons = [v.reason for v in (forward, back) if v.choice == "abstain"]
        return abstain("abstained in " + ("both orders" if len(reasons) == 2 else "one order") + f": {reasons[0]}")
    p = 0.5 * (p_first_of(forward) + p_first_of(back))  # type: ignore[operator]
    reason = forward.reason if forward.reason == back.reason else f"{forward.reason} | swapped: {back.reason}"
    return Verdict(choice_of(p), p, reason)


def safe_verdicts(judge: Any, contexts: Sequence[Any], pairs: Sequence[tuple[Any, Any]]) -> list[Verdict]:
    """``judge.judge(contexts, pairs)``, with every failure an abstention: a batch that raises or returns
    the wrong count is retried pair by pair; a pair that raises, or gets anything but a Verdict, abstains."""
    try:
        out = list(judge.judge(list(contexts), list(pairs)))
        if len(out) == len(pairs):
            return [v if isinstance(v, Verdict) else abstain(f"judge returned {type(v).__name__}, not a Verdict")
                    for v in out]
    except Exception:  # noqa: BLE001 - any judge failure becomes abstentions below, pair by pair
        pass
    return [_single(judge, c, p) for c, p in zip(contexts, pairs)]


def _single(judge: Any, context: Any, pair: tuple[Any, Any]) -> Verdict:
    try:
        out = list(judge.judge([context], [pair]))
    except Exception as exc:  # noqa: BLE001 - a failing judge abstains on this pair
        return abstain(f"judge failed: {type(exc).__name__}: {exc}")
    if len(out) != 1 or not isinstance(out[0], Verdict):
        return abstain(f"judge returned {len(out)} results for one pair" if len(out) != 1
                       else f"judge returned {type(out[0]).__name__}, not a Verdict")
    return out[0]


def judge_pairs(judge: Any, contexts: Sequence[Any], pairs: Sequence[tuple[Any, Any]]) -> list[JudgedPair]:
    """Judge every pair in both presentation orders and combine them (see the module docstring)."""
    if len(contexts) != len(pairs):
        raise ValueError(f"{len(contexts)} contexts for {len(pairs)} pairs")
    forward = safe_verdicts(judge, contexts, pairs)
    backward = safe_verdicts(judge, contexts, [(b, a) for a, b in pairs])
    return [JudgedPair(combine(f, b), f, b) for f, b in zip(forward, backward)]


@dataclass(frozen=True)
class JudgeStats:
    """How a judge behaved: pairs judged, abstain rate, position-flip rate (among pairs judged in both
    orders) and first-position rate (share of raw preferences that chose the item shown first)."""

    pairs: int
    abstain_rate: float
    flip_rate: float
    first_position_rate: float

    def as_dict(self) -> dict[str, float]:
        return {"pairs": self.pairs, "abstain_rate": self.abstain_rate, "flip_rate": self.flip_rate,
                "position_consistency": 1.0 - self.flip_rate, "first_position_rate": self.first_position_rate}


def judge_stats(judged: Sequence[JudgedPair]) -> JudgeStats:
    both = [j for j in judged if "abstain" not in (j.forward.choice, j.backward.choice)]
    raw = [v.choice for j in judged for v in (j.forward, j.backward) if v.choice in ("first", "second")]
    return JudgeStats(
        pairs=len(judged),
        abstain_rate=float(np.mean([j.abstained for j in judged])) if judged else 0.0,
        flip_rate=float(np.mean([j.flipped for j in both])) if both else 0.0,
        first_position_rate=float(np.mean([c == "first" for c in raw])) if raw else 0.5,
    )


def agreement(verdicts: Sequence[Verdict], reference: Sequence[Verdict]) -> tuple[int, int]:
    """``(agreeing, compared)`` over pairs where both express a strict preference."""
    compared = agreeing = 0
    for v, r in zip(verdicts, reference):
        if v.choice in ("first", "second") and r.choice in ("first", "second"):
            compared += 1
            agreeing += v.choice == r.choice
    return agreeing, compared


@dataclass(frozen=True)
class Ranking:
    """Candidates ordered best first (``order``), their scores (mean P(better) over the comparisons each
    took part in) and how many comparisons abstained."""

    order: list[int]
    scores: list[float]
    abstentions: int


def rank(judge: Any, context: Any, candidates: Sequence[Any]) -> Ranking:
    """Rank n candidates for one context: every pair judged in both orders; abstentions count for no one."""
    n = len(candidates)
    index = [(i, j) for i in range(n) for j in range(i + 1, n)]
    judged = judge_pairs(judge, [context] * len(index), [(candidates[i], candidates[j]) for i, j in index])
    total, count = np.zeros(n), np.zeros(n)
    for (i, j), pair in zip(index, judged):
        p = p_first_of(pair.verdict)
        if p is None:
            continue
        total[i] += p
        total[j] += 1.0 - p
        count[[i, j]] += 1
    scores = np.where(count > 0, total / np.maximum(count, 1), 0.5)
    order = sorted(range(n), key=lambda k: (-scores[k], k))
    return Ranking(order, [float(s) for s in scores], sum(j.abstained for j in judged))




def calibration(p_first: Sequence[float], first_better: Sequence[bool], bins: int = 10) -> list[dict[str, float]]:
    """Reliability diagram of ``p_first``: per bin of stated probability, its mean and how often the first
    item really was better (by a reference such as the oracle), with the count."""
    p, truth = np.asarray(p_first, dtype=float), np.asarray(first_better, dtype=float)
    which = np.minimum((p * bins).astype(int), bins - 1)
    return [{"low": b / bins, "high": (b + 1) / bins, "p_first": float(p[which == b].mean()),
             "observed": float(truth[which == b].mean()), "n": int(np.count_nonzero(which == b))}
            for b in range(bins) if np.any(which == b)]
