"""Policy improvement against a reward model, measured against an oracle.

Every method samples ``n`` trajectories per scenario from a Gaussian version of
the policy (:class:`~tutelage.methods.preferences.GaussianPolicy`) and scores
them with the reward model; each round then trains the policy's mean:

- ``best_of_n`` (iterated): fine-tuned on the best-scored trajectory of each scenario;
- ``rwr`` (reward-weighted regression): fine-tuned on ``n`` trajectories drawn with
  weights ``softmax(score / (beta · std))`` within each scenario;
- ``dpo``: the best-scored sample of each scenario preferred to its worst, trained
  with DPO (:mod:`tutelage.methods.dpo`, β = ``beta``) against the frozen start.

Each round reports the divergence from the frozen reference (the starting
policy): the mean KL between the two Gaussians, ``‖μ − μ_ref‖² / 2σ²``, on
the states visited. :func:`win_rate` and :func:`overoptimization` need the
oracle passed in (a function of a trajectory); nothing here reads it otherwise.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tutelage.errors import SpecError
from tutelage.methods.dpo import dpo
from tutelage.methods.preferences import GaussianPolicy, Trajectory, _Recorder, collect_pairs, samples
from tutelage.rollouts.plan import EpisodePlan
from tutelage.rollouts.rollout import make_env
from tutelage.stats import paired_win_rate

METHODS = ("best_of_n", "rwr", "dpo")
Oracle = Callable[[Any], Any]


def _value(oracle: Oracle, trajectory: Trajectory) -> float:
    out = oracle(trajectory)
    return float(getattr(out, "total", out))


def keep(scores: np.ndarray, method: str, rng: np.random.Generator, beta: float = 1.0) -> np.ndarray:
    """Indices of the trajectories of one scenario to fine-tune on."""
    if method == "best_of_n":
        return np.array([int(np.argmax(scores))])
    if method == "rwr":
        z = (scores - scores.max()) / (beta * max(float(np.std(scores)), 1e-9))
        weights = np.exp(z) / np.exp(z).sum()
        return rng.choice(len(scores), size=len(scores), p=weights)
    raise SpecError(f"improvement method must be one of {METHODS}, got {method!r}")


def kept_targets(groups: Sequence[Sequence[Trajectory]], scores: np.ndarray, method: str, rng: np.random.Generator,
                 beta: float, reference: Any, anchor: float) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets of ``best_of_n`` and ``rwr``: the kept trajectories' steps, plus ``anchor`` states
    of the other samples per kept step labelled with the reference's actions."""
    chosen = [(k, i) for k, s in enumerate(scores) for i in keep(s, method, rng, beta)]
    kept = [groups[k][i] for k, i in chosen]
    X = np.concatenate([t.observations for t in kept])
    Y = np.concatenate([np.clip(t.actions, -1.0, 1.0) for t in kept])
    others = [t.observations for k, g in enumerate(groups) for i, t in enumerate(g) if (k, i) not in chosen]
    if anchor > 0 and others:
        others = np.concatenate(others)
        states = others[rng.choice(len(others), size=min(len(others), int(anchor * len(X))), replace=False)]
        X, Y = np.concatenate([X, states]), np.concatenate([Y, reference.forward(states)])
    return X, Y


def extreme_pairs(groups: Sequence[Sequence[Trajectory]], scores: np.ndarray) -> tuple[list[tuple[Any, Any]], np.ndarray]:
    """``dpo`` pairs: per scenario, the reward model's best sample against its worst (label 1)."""
    pairs = [(g[int(np.argmax(s))], g[int(np.argmin(s))]) for g, s in zip(groups, scores) if np.ptp(s) > 0]
    return pairs, np.ones(len(pairs))


def divergence(policy: Any, reference: Any, states: np.ndarray, sigma: float) -> dict[str, float]:
    """Mean KL(π ‖ π_ref) between the Gaussians ``N(policy(s), σ²)`` and ``N(reference(s), σ²)``, and the
    root-mean-square action difference, over ``states``."""
    gap = np.sum((policy.forward(states) - reference.forward(states)) ** 2, axis=1)
    return {"kl": float(np.mean(gap) / (2 * sigma**2)), "action_rms": float(np.sqrt(np.mean(gap)))}


def improve(policy: Any, world: str, plans: Sequence[EpisodePlan], reward: Any, *, method: str = "best_of_n",
            n: int = 8, sigma: float = 0.1, rounds: int = 2, epochs: int = 30, lr: float = 1e-3, beta: float = 1.0,
            max_steps: int | None = None, seed: int = 0, anchor: float = 1.0) -> tuple[Any, list[dict[str, Any]]]:
    """A fine-tuned copy of ``policy`` (a model) and one report per round; ``plans`` are shared evenly
    among the rounds (each round meets new scenarios). ``anchor`` adds, per kept step, that many states of
    the other samples labelled with the start's own actions: a trust region that keeps the policy where
    the reward model said nothing (0: none). ``beta``: the rwr temperature, or DPO's β."""
    from tutelage.methods.bc import train_supervised

    if method not in METHODS:
        raise SpecError(f"improvement method must be one of {METHODS}, got {method!r}")
    if rounds < 1 or n < 1 or len(plans) < rounds:
        raise SpecError(f"improve: need rounds >= 1, n >= 1 and at least one scenario per round, got "
                        f"{rounds}, {n}, {len(plans)}")
    reference, current = policy, policy.copy()
    rng = np.random.default_rng(seed)
    env = _Recorder(make_env(world, max_steps=max_steps))
    reports = []
    try:
        for r, part in enumerate(np.array_split(np.arange(len(plans)), rounds)):
            groups = [samples(world, GaussianPolicy(current, sigma), plans[i], n, env=env) for i in part]
            scores = reward.score([t for g in groups for t in g]).reshape(len(groups), n)
            report = {"round": r, "scenarios": len(groups), "samples": len(groups) * n,
                      "mean_score": float(scores.mean()), "best_score": float(scores.max(axis=1).mean())}
            if method == "dpo":
                pairs, labels = extreme_pairs(groups, scores)
                current, trained = dpo(current, pairs, labels, reference=reference, beta=beta, sigma=sigma,
                                       epochs=epochs, lr=lr, seed=seed + r)
                report.update(pairs=len(pairs), dpo_loss=trained["loss"][-1])
            else:
                X, Y = kept_targets(groups, scores, method, rng, beta, reference, anchor)
                train_supervised(current, X, Y, epochs=epochs, lr=lr, seed=seed + r, warm_start=True, standardize=True)
                report["training_steps"] = len(X)
            visited = np.concatenate([t.observations for g in groups for t in g])
            reports.append({**report, **divergence(current, reference, visited, sigma)})
    finally:
        env.close()
    return current, reports


def win_rate(world: str, policy: Any, start: Any, plans: Sequence[EpisodePlan], oracle: Oracle, *,
             max_steps: int | None = None) -> dict[str, Any]:
    """``policy`` against ``start`` on the same scenarios, judged by the oracle: wins, losses, ties
    and the paired win rate (ties count half) with its 95 % interval."""
    pairs = collect_pairs(world, policy, start, plans, labels=("policy", "start"), max_steps=max_steps)
    diff = np.array([_value(oracle, p.first) - _value(oracle, p.second) for p in pairs])
    wins, losses = int(np.count_nonzero(diff > 1e-9)), int(np.count_nonzero(diff < -1e-9))
    interval = paired_win_rate(wins, losses, len(diff) - wins - losses)
    return {"wins": wins, "losses": losses, "ties": len(diff) - wins - losses, "win_rate": interval.estimate,
            "interval": interval.as_dict(), "mean_gain": float(diff.mean()),
            "start_return": float(np.mean([_value(oracle, p.second) for p in pairs]))}


def overoptimization(world: str, policy: Any, plans: Sequence[EpisodePlan], reward: Any, oracle: Oracle, *,
                     ns: Sequence[int] = (1, 2, 4, 8, 16, 32, 64), sigma: float = 0.1,
                     max_steps: int | None = None) -> list[dict[str, float]]:
    """Best-of-n by the reward model as n grows: mean reward-model score and oracle return of the pick
    (the first n of the same max(ns) samples per scenario, so the curve is nested)."""
    env = _Recorder(make_env(world, max_steps=max_steps))
    try:
        groups = [samples(world, GaussianPolicy(policy, sigma), plan, max(ns), env=env) for plan in plans]
    finally:
        env.close()
    scores = reward.score([t for g in groups for t in g]).reshape(len(groups), max(ns))
    curve = []
    for n in ns:
        picks = [int(np.argmax(s[:n])) for s in scores]
        curve.append({"n": int(n), "reward": float(np.mean([s[i] for s, i in zip(scores, picks)])),
                      "oracle": float(np.mean([_value(oracle, g[i]) for g, i in zip(groups, picks)]))})
    return curve
