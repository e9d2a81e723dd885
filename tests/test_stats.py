"""Intervals against hand-computed values."""
import math

import pytest

from tutelage.stats import difference_of_proportions, mean_interval, paired_win_rate, wilson


def test_wilson_matches_hand_computed_values():
    interval = wilson(18, 20)
    assert interval.estimate == 0.9
    assert interval.low == pytest.approx(0.6990, abs=1e-4)
    assert interval.high == pytest.approx(0.9721, abs=1e-4)
    assert wilson(0, 10).low == 0.0 and wilson(10, 10).high == 1.0
    assert wilson(0, 0).n == 0 and math.isnan(wilson(0, 0).estimate)
    with pytest.raises(ValueError):
        wilson(3, 2)


def test_mean_interval_uses_student_t():
    interval = mean_interval([1.0, 2.0, 3.0])
    # t_{0.975, 2} = 4.3027, sd = 1, n = 3
    assert interval.estimate == 2.0
    assert interval.high - 2.0 == pytest.approx(4.3027 / math.sqrt(3), abs=1e-3)


def test_difference_and_paired_win_rate():
    d = difference_of_proportions(90, 100, 80, 100)
    assert d.estimate == pytest.approx(0.1)
    assert d.low < 0.1 < d.high and d.low > -0.05
    assert paired_win_rate(6, 2, 2).estimate == pytest.approx(0.7)
    assert paired_win_rate(6, 2, 2).n == 10
    assert "%" in wilson(9, 10).percent()
