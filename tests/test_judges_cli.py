"""``tutelage judge``: agreement with the oracle printed; bad names are one-line errors (exit 2)."""
from __future__ import annotations

import tutelage.worlds  # noqa: F401
from tutelage.cli import main


def test_judge_command_prints_agreement_with_the_oracle(capsys, tmp_path):
    code = main(["judge", "tutelage/Reach-v0", "--policies", "expert", "random", "--judge", "expert", "--pairs", "3",
                 "--max-steps", "25", "--out", str(tmp_path / "prefs")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "expert better by the oracle in 3" in out
    assert "agreement with the oracle 100.0 %" in out and "position flips 0.0 %" in out
    assert (tmp_path / "prefs" / "preferences.parquet").is_file()


def test_judge_command_names_unknown_judges_and_worlds_without_an_oracle(capsys):
    assert main(["judge", "tutelage/Reach-v0", "--policies", "expert", "random", "--judge", "nope"]) == 2
    assert "unknown judge 'nope'" in capsys.readouterr().err
    assert main(["judge", "CartPole-v1", "--policies", "random", "random", "--judge", "oracle"]) == 2
    assert "world with an oracle" in capsys.readouterr().err
