"""Judges that score each item of a pair and prefer the higher score."""
from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tutelage.errors import SpecError
from tutelage.judging import choice_of
from tutelage.protocols import Verdict


class ScoreJudge:
    """Scores both items (:meth:`scores`, NaN where it cannot) and compares: ``p_first = σ((s₁ − s₂) / scale)``
    (``scale`` 0: 1, 0 or 0.5); an item it cannot score makes the pair an abstention."""

    name = ""
    what = "score"
    scale = 0.0

    def scores(self, contexts: Sequence[Any], items: Sequence[Any]) -> np.ndarray:
        raise NotImplementedError

    def judge(self, contexts: list[Any], pairs: list[tuple[Any, Any]]) -> list[Verdict]:
        s = np.asarray(self.scores(list(contexts) * 2, [a for a, _ in pairs] + [b for _, b in pairs]), dtype=float)
        return [self.verdict(context, pair, s[i], s[len(pairs) + i]) for i, (context, pair) in enumerate(zip(contexts, pairs))]

    def verdict(self, context: Any, pair: tuple[Any, Any], first: float, second: float) -> Verdict:
        if not (math.isfinite(first) and math.isfinite(second)):
            return Verdict("abstain", None, f"{self.name}: cannot score {'first' if not math.isfinite(first) else 'second'}")
        p = _sigmoid((first - second) / self.scale) if self.scale > 0 else {"first": 1.0, "second": 0.0, "tie": 0.5}[
            choice_of(0.5 + (first - second))]
        return Verdict(choice_of(p), p, f"{self.what} {first:.4g} vs {second:.4g}")


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


class OracleJudge(ScoreJudge):
    """The designer's true objective: the world's oracle return (``world=``) or any ``score(context, item)``.

    With ``temperature`` > 0 it is a noisy rater (Boltzmann): it picks the first item with probability
    ``σ((R₁ − R₂) / (temperature · spread))``, ``spread`` being the standard deviation of the returns it
    is shown in the call (or the ``spread`` given); each pair in each order draws its own seeded coin.
    """

    name = "oracle"
    what = "oracle return"

    def __init__(self, world: str | None = None, score: Callable[[Any, Any], float] | None = None,
                 temperature: float = 0.0, spread: float | None = None, seed: int = 0):
        if (world is None) == (score is None):
            raise SpecError("judge 'oracle': give exactly one of world= or score=")
        if temperature < 0:
            raise SpecError(f"judge 'oracle': temperature must be >= 0, got {temperature}")
        if world is not None:
            from tutelage_plugins.worlds.oracles import oracle_for

            oracle = oracle_for(world)
            score = lambda context, item: oracle(item).total  # noqa: E731
        self.score, self.temperature, self.spread, self.seed = score, float(temperature), spread, int(seed)

    def scores(self, contexts, items):
        return np.array([self.score(c, item) for c, item in zip(contexts, items)], dtype=float)

    def judge(self, contexts, pairs):
        if self.temperature == 0:
            return super().judge(contexts, pairs)
        s = self.scores(list(contexts) * 2, [a for a, _ in pairs] + [b for _, b in pairs])
        spread = self.spread if self.spread is not None else float(np.std(s[np.isfinite(s)])) if np.isfinite(s).any() else 1.0
        noise = self.temperature * max(spread, 1e-9)
        out = []
        for i, (context, (a, b)) in enumerate(zip(contexts, pairs)):
            first, second = s[i], s[len(pairs) + i]
            if not (math.isfinite(first) and math.isfinite(second)):
                out.append(self.verdict(context, (a, b), first, second))
                continue
            key = zlib.crc32(f"{_key(context)}|{_key(a)}|{_key(b)}".encode())
            pick = np.random.default_rng([self.seed, key]).random() < _sigmoid((first - second) / noise)
            out.append(Verdict("first" if pick else "second", 1.0 if pick else 0.0,
                               f"noisy rater: oracle return {first:.4g} vs {second:.4g}"))
        return out


def _key(obj: Any) -> str:
    """A stable name of a context or item for seeding (its id or pair_id, else its repr)."""
    if isinstance(obj, dict):
        return str(obj.get("pair_id", sorted(obj.items())))
    return str(getattr(obj, "id", obj))


class ExpertJudge(ScoreJudge):
    """The world's privileged expert as a judge: prefers the trajectory whose actions are closer to what
    it would have done, and that stayed safe by its measures (no collision, on the road). It reads the
    trajectory's privileged infos, never the oracle return; without infos it abstains."""

    name = "expert"
    what = "expert score"

    def __init__(self, world: str | None = None, expert: Any = None, unsafe_weight: float = 1.0, scale: float = 0.05):
        if expert is None:
            if world is None:
                raise SpecError("judge 'expert': give world= or expert=")
            from tutelage.plugins import get_host

            host = get_host()
            name = host.registry("worlds").get(world).expert
            if not name:
                raise SpecError(f"judge 'expert': world {world!r} declares no expert teacher")
            expert = host.registry("teachers").get(name)()
        self.expert, self.unsafe_weight, self.scale = expert, float(unsafe_weight), float(scale)

    def scores(self, contexts, items):
        return np.array([self.score(item) for item in items], dtype=float)

    def score(self, item: Any) -> float:
        infos = getattr(item, "infos", None)
        if not infos:
            return math.nan
        wanted = np.clip(np.stack([np.asarray(self.expert.act(o, i), dtype=np.float64).ravel()
                                   for o, i in zip(item.observations, infos)]), -1.0, 1.0)
        gap = float(np.mean(np.linalg.norm(wanted - item.actions, axis=1))) / math.sqrt(wanted.shape[1])
        unsafe = any(bool(i.get("collision", False)) or bool(i.get("off_road", False)) for i in infos[1:])
        return -gap - self.unsafe_weight * unsafe


class ModelJudge(ScoreJudge):
    """A learned judge: a Bradley–Terry reward model (``reward=`` a RewardModel, or ``path=`` a model file
    written by the ``reward`` stage); ``p_first = σ(r₁ − r₂)``. Items need ``steps()`` (trajectories)."""

    name = "model"
    what = "reward"
    scale = 1.0

    def __init__(self, reward: Any = None, path: str | None = None):
        if (reward is None) == (path is None):
            raise SpecError("judge 'model': give exactly one of reward= or path=")
        if path is not None:
            from tutelage.methods.reward import load_reward_model

            reward = load_reward_model(path)
        self.reward = reward

    def scores(self, contexts, items):
        """Reward-model scores; NaN (an abstention) for items that are not trajectories."""
        scored = [i for i, item in enumerate(items) if hasattr(item, "steps")]
        out = np.full(len(items), math.nan)
        out[scored] = self.reward.score([items[i] for i in scored])
        return out
