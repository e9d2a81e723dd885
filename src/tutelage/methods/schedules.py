"""Schedules for DAgger's β: the share of steps on which the teacher drives.

After the ``imitation`` library: a schedule maps a round number (0, 1, ...) to
β ∈ [0, 1]; round 0 is usually pure teacher (β = 1), and β falls as the
student takes over.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from tutelage.errors import SpecError


@runtime_checkable
class BetaSchedule(Protocol):
    """``schedule(round_num) -> beta`` with beta in [0, 1]."""

    def __call__(self, round_num: int) -> float: ...


def check_unit_interval(name: str, value: float) -> None:
    """A schedule parameter outside [0, 1] is a spec error."""
    if not 0.0 <= float(value) <= 1.0:
        raise SpecError(f"{name} must lie in [0, 1], got {value!r}")


@dataclass(frozen=True)
class LinearBetaSchedule:
    """β falls linearly from 1 at round 0 to 0 at ``rampdown_rounds`` and stays there."""

    rampdown_rounds: int

    def __post_init__(self) -> None:
        if int(self.rampdown_rounds) < 1:
            raise SpecError(f"rampdown_rounds must be at least 1, got {self.rampdown_rounds!r}")

    def __call__(self, round_num: int) -> float:
        return min(1.0, max(0.0, (self.rampdown_rounds - round_num) / self.rampdown_rounds))


@dataclass(frozen=True)
class ExponentialBetaSchedule:
    """β = ``decay`` ** round: 1 at round 0, never exactly 0 (Ross et al. 2011's p^i)."""

    decay: float

    def __post_init__(self) -> None:
        check_unit_interval("decay", self.decay)

    def __call__(self, round_num: int) -> float:
        return float(self.decay) ** round_num


@dataclass(frozen=True)
class ConstantBetaSchedule:
    """The same β every round (β = 0 from round 0 is the student driving throughout)."""

    beta: float

    def __post_init__(self) -> None:
        check_unit_interval("beta", self.beta)

    def __call__(self, round_num: int) -> float:
        return float(self.beta)


def beta_schedule(spec: str | float | BetaSchedule, rounds: int) -> BetaSchedule:
    """A schedule from a run-spec value: ``"linear"`` (to 0 over half the rounds), ``"linear:3"``,
    ``"exponential:0.5"``, a number, or a schedule."""
    if callable(spec):
        return spec
    if isinstance(spec, (int, float)):
        return ConstantBetaSchedule(float(spec))
    kind, _, arg = str(spec).partition(":")
    try:
        if kind == "linear":
            return LinearBetaSchedule(int(arg) if arg else max(1, rounds // 2))
        if kind == "exponential":
            return ExponentialBetaSchedule(float(arg) if arg else 0.5)
        if kind == "constant":
            return ConstantBetaSchedule(float(arg))
    except ValueError:
        raise SpecError(f"beta_schedule {spec!r}: {arg!r} is not a number") from None
    raise SpecError(f"beta_schedule {spec!r}: expected 'linear[:ROUNDS]', 'exponential[:DECAY]', 'constant:BETA' or a number")
