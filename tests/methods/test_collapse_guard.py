"""The collapse guard's verdicts, the drift alarm and provenance mixing, on tiny cases."""
from __future__ import annotations

import doctest
import json

import pytest

from tutelage.errors import DataError, SpecError
from tutelage.methods import collapse_guard
from tutelage.methods.collapse_guard import CollapseGuard, CollapseRefused, DriftAlarm


@pytest.mark.parametrize("share, depth, expected", [
    (0.0, 0, "ok"), (0.9, 1, "ok"), (0.95, 1, "refuse"), (0.5, 3, "ok"), (0.5, 4, "refuse"), (1.0, 9, "refuse"),
])
def test_verdicts(share, depth, expected):
    verdict = CollapseGuard(0.1, 3, "refuse").check({"synthetic_share": share, "synthetic_depth": depth}, name="d")
    assert verdict.status == expected
    assert verdict.as_dict()["dataset"] == "d" and verdict.as_dict()["synthetic_share"] == share


def test_refusal_names_the_dataset_and_its_share(tmp_path):
    root = tmp_path / "gen3"
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "info.json").write_text(json.dumps({"synthetic_share": 0.97, "synthetic_depth": 3}))
    verdict = CollapseGuard(action="refuse").check(root)
    assert verdict.status == "refuse" and str(root) in verdict.message and "97%" in verdict.message
    with pytest.raises(CollapseRefused, match="97%") as caught:
        verdict.enforce()
    assert caught.value.exit_code == 2
    with pytest.warns(UserWarning, match="gen3"):
        CollapseGuard(action="warn").check(root / "meta" / "info.json").enforce()


def test_legacy_and_bad_info():
    guard = CollapseGuard()
    assert guard.check({"synthetic_share": 0.5}).details["synthetic_depth"] == 1  # no depth recorded: one model deep
    assert guard.check({}).details["synthetic_depth"] == 0
    with pytest.raises(DataError, match="synthetic_share"):
        guard.check({"synthetic_share": 1.5}, name="x")
    with pytest.raises(DataError, match="synthetic_depth is 0"):
        guard.check({"synthetic_share": 0.5, "synthetic_depth": 0})
    with pytest.raises(DataError, match="nonexistent.dataset.*not a dataset"):
        guard.check("/nonexistent/dataset")
    with pytest.raises(SpecError, match="action"):
        CollapseGuard(action="stop")
    with pytest.raises(SpecError, match="unknown field"):
        CollapseGuard.from_spec({"min_real": 0.2})
    assert CollapseGuard.from_spec({"action": "refuse"}).action == "refuse"


def test_drift_alarm_by_hand():
    alarm = DriftAlarm(max_increase=0.1, action="refuse")
    assert alarm.update(2.0, 0).status == "ok"           # sets the baseline
    assert alarm.update(2.2, 1).status == "ok"           # +10 % is at the limit
    verdict = alarm.update(2.3, 2)
    assert verdict.status == "refuse" and verdict.details["change"] == pytest.approx(0.15) and "generation 2" in verdict.message
    assert DriftAlarm(baseline=-2.0).update(-1.8).details["change"] == pytest.approx(0.1)  # relative to |baseline|
    assert DriftAlarm().update(float("nan")).status == "warn"


def test_depth_and_mixing():
    assert collapse_guard.generated_depth([0, 0, 2]) == 3 and collapse_guard.generated_depth([]) == 1
    mixed = collapse_guard.combine([(300, 0.0, 0), (100, 1.0, 2)])
    assert mixed == {"synthetic_share": 0.25, "synthetic_depth": 2}
    assert collapse_guard.combine([]) == {"synthetic_share": 0.0, "synthetic_depth": 0}


def test_module_examples_run():
    assert doctest.testmod(collapse_guard).failed == 0
