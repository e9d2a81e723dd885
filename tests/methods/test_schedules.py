"""DAgger's β schedules: the share of steps on which the teacher drives."""
import pytest

from tutelage.errors import SpecError
from tutelage.methods.schedules import (
    ConstantBetaSchedule, ExponentialBetaSchedule, LinearBetaSchedule, beta_schedule,
)


def test_linear_schedule_falls_from_one_to_zero_and_stays():
    schedule = LinearBetaSchedule(4)
    assert [schedule(r) for r in range(7)] == [1.0, 0.75, 0.5, 0.25, 0.0, 0.0, 0.0]


def test_exponential_and_constant_schedules():
    assert [ExponentialBetaSchedule(0.5)(r) for r in range(4)] == [1.0, 0.5, 0.25, 0.125]
    assert ConstantBetaSchedule(0.3)(9) == 0.3


@pytest.mark.parametrize(("spec", "expected"), [
    ("linear", [1.0, 0.0, 0.0]),
    ("linear:1", [1.0, 0.0, 0.0]),
    ("exponential:0.5", [1.0, 0.5, 0.25]),
    (0.2, [0.2, 0.2, 0.2]),
])
def test_schedules_from_run_spec_values(spec, expected):
    schedule = beta_schedule(spec, rounds=3)
    assert [schedule(r) for r in range(3)] == expected


@pytest.mark.parametrize("spec", ["linear:x", "cosine", "constant:2"])
def test_bad_schedule_specs_are_clear_errors(spec):
    with pytest.raises(SpecError, match="beta|decay|schedule"):
        beta_schedule(spec, rounds=3)


def test_linear_schedule_needs_a_positive_rampdown():
    with pytest.raises(SpecError, match="rampdown_rounds"):
        LinearBetaSchedule(0)
