"""Bradley–Terry reward models from preference data, trained in the core through ``fit``.

A :class:`RewardModel` wraps any model with one output: in ``step`` mode it
reads one step (observation and action) and a trajectory's score is the sum
of its per-step rewards; in ``trajectory`` mode it reads a summary of the
whole trajectory (mean, last, min and max step, and the share of the time
limit used) and returns one score. Labels are each pair's ``p_first`` (1, 0,
0.5 for a tie, or soft); abstentions are left out. ``margin`` asks the
preferred item to win by that much (scaled by how sure the label is).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tutelage.errors import DataError

MODES = ("step", "trajectory")
SCORE_BATCH = 4096


def summary(trajectory: Any) -> np.ndarray:
    """A fixed-size description of a whole trajectory (``trajectory`` mode)."""
    steps = trajectory.steps()
    used = trajectory.length / max(trajectory.horizon or trajectory.length, 1)
    return np.concatenate([steps.mean(axis=0), steps[-1], steps.min(axis=0), steps.max(axis=0), [used]]).astype(np.float32)


def input_size(trajectory: Any, mode: str) -> int:
    """The input size of a reward model of ``mode`` for trajectories like this one."""
    return int(summary(trajectory).shape[0] if mode == "trajectory" else trajectory.steps().shape[1])


@dataclass
class RewardModel:
    """A model and how it reads trajectories (``mode`` in :data:`MODES`)."""

    model: Any
    mode: str = "step"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise DataError(f"reward model mode must be one of {MODES}, got {self.mode!r}")

    def score(self, trajectories: Sequence[Any]) -> np.ndarray:
        """One score per trajectory (higher is better)."""
        if not trajectories:
            return np.zeros(0)
        if self.mode == "trajectory":
            return self.model.forward(np.stack([summary(t) for t in trajectories])).reshape(-1).astype(np.float64)
        steps = np.concatenate([t.steps() for t in trajectories])
        rewards = np.concatenate([self.model.forward(steps[i:i + SCORE_BATCH]).reshape(-1)
                                  for i in range(0, len(steps), SCORE_BATCH)])
        ends = np.cumsum([t.length for t in trajectories])
        return np.add.reduceat(rewards.astype(np.float64), np.concatenate([[0], ends[:-1]]))


def labelled(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows that carry a preference (abstentions are never labels)."""
    return [r for r in rows if r["choice"] != "abstain" and r["p_first"] is not None]


def pair_arrays(rows: Sequence[dict[str, Any]], trajectories: dict[str, Any], mode: str,
                margin: float = 0.0) -> tuple[np.ndarray, tuple]:
    """``fit`` inputs and targets for labelled rows: ``(N, 2, f)`` summaries, or ``(N, 2, T, f)`` steps
    padded to the longest with a mask; targets ``(p_first, margin, mask)``."""
    pairs = [(trajectories[r["first_id"]], trajectories[r["second_id"]]) for r in rows]
    p = np.array([r["p_first"] for r in rows], dtype=np.float32)
    margins = np.full(len(rows), margin, dtype=np.float32) if margin else None
    if mode == "trajectory":
        return np.stack([[summary(a), summary(b)] for a, b in pairs]), (p, margins, None)
    longest = max(t.length for pair in pairs for t in pair)
    width = pairs[0][0].steps().shape[1]
    X = np.zeros((len(pairs), 2, longest, width), dtype=np.float32)
    mask = np.zeros((len(pairs), 2, longest), dtype=np.float32)
    for i, pair in enumerate(pairs):
        for j, t in enumerate(pair):
            X[i, j, :t.length] = t.steps()
            mask[i, j, :t.length] = 1.0
    return X, (p, margins, mask)


def pair_accuracy(reward: RewardModel, rows: Sequence[dict[str, Any]], trajectories: dict[str, Any]) -> tuple[int, int]:
    """``(correct, compared)``: strict preferences whose preferred item the reward model scores higher."""
    strict = [r for r in labelled(rows) if r["choice"] in ("first", "second")]
    if not strict:
        return 0, 0
    first = reward.score([trajectories[r["first_id"]] for r in strict])
    second = reward.score([trajectories[r["second_id"]] for r in strict])
    said_first = np.array([r["choice"] == "first" for r in strict])
    return int(np.count_nonzero((first > second) == said_first)), len(strict)


def train_reward_model(model: Any, rows: Sequence[dict[str, Any]], trajectories: dict[str, Any], *, mode: str = "step",
                       epochs: int = 60, lr: float = 3e-3, batch_size: int = 32, margin: float = 0.0,
                       validation: float | None = 0.2, seed: int = 0, quiet: bool = True,
                       callbacks: Any = ()) -> tuple[RewardModel, dict[str, Any]]:
    """Train ``model`` (one output) with the Bradley–Terry loss on the labelled rows; returns the reward
    model and a report (labels used, abstentions left out, held-out pair accuracy, loss curve)."""
    from tutelage.methods.standardize import fit_standardized
    from tutelage.train import fit

    reward = RewardModel(model, mode)
    used = labelled(rows)
    if len(used) < 2:
        raise DataError(f"preference dataset: {len(used)} labelled pairs (field 'choice'); need at least 2")
    order = np.random.default_rng(seed).permutation(len(used))
    n_val = int(round(len(used) * validation)) if validation else 0
    train_rows, val_rows = [used[i] for i in order[n_val:]], [used[i] for i in order[:n_val]]
    X, Y = pair_arrays(train_rows, trajectories, mode, margin)
    held = pair_arrays(val_rows, trajectories, mode, margin) if val_rows else None
    real = X.reshape(-1, X.shape[-1]) if mode == "trajectory" else X[Y[2] > 0]

    def train(_: np.ndarray, transform: Any) -> Any:
        return fit(model, transform(X), Y, loss="bradley_terry", lr=lr, epochs=epochs, batch_size=batch_size,
                   validation=(transform(held[0]), held[1]) if held else None, seed=seed, quiet=quiet,
                   callbacks=callbacks)

    history = fit_standardized(model, real, train)
    report: dict[str, Any] = {"labels": len(used), "abstentions": len(rows) - len(used), "mode": mode,
                              "train_pairs": len(train_rows), "loss": history.loss}
    correct, compared = pair_accuracy(reward, train_rows, trajectories)
    report["train_accuracy"] = correct / max(compared, 1)
    if val_rows:
        correct, compared = pair_accuracy(reward, val_rows, trajectories)
        report.update(val_pairs=compared, val_accuracy=correct / max(compared, 1), val_loss=history.val_loss,
                      held_out=[r.get("pair_id") for r in val_rows])
    return reward, report


def save_reward_model(reward: RewardModel, path: Any, *, lineage: dict[str, Any] | None = None,
                      metadata: dict[str, Any] | None = None) -> str:
    """Write the model (safetensors) with its mode in the metadata; returns its id."""
    from tutelage import nn

    return nn.save(reward.model, path, lineage=lineage, metadata={**(metadata or {}), "reward_mode": reward.mode})


def load_reward_model(path: Any) -> RewardModel:
    """A reward model written by :func:`save_reward_model`."""
    from tutelage import nn

    model = nn.load(path)
    mode = model.info.get("metadata", {}).get("reward_mode")
    if mode not in MODES:
        raise DataError(f"{path}: not a reward model (metadata field 'reward_mode' is {mode!r})")
    return RewardModel(model, mode)
