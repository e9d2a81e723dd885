"""``tutelage judge``: agreement with the oracle printed; bad names are one-line errors (exit 2); the judge
stage of a run resumes after SIGKILL with identical data."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

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


SLOW_JUDGE = '''
import time
from tutelage import hookimpl
from tutelage_plugins.judges.scoring import OracleJudge


def slow(**options):
    judge = OracleJudge(world="tutelage/Reach-v0", temperature=0.5, seed=7)
    oracle = judge.score
    judge.score = lambda context, item: time.sleep(0.1) or oracle(context, item)
    return judge


@hookimpl
def tutelage_judges():
    return {"slow": slow}
'''

SPEC = '''
name = "judged"
seed = 3
world = "tutelage/Reach-v0"

[[stages]]
name = "labels"
type = "judge"
policy = "expert"
second = "reach-expert"
judge = "slow"
pairs = 12
chunk = 2
max_steps = 30
'''


@pytest.mark.slow
def test_the_judge_stage_resumes_after_sigkill_with_identical_data(tmp_path):
    (tmp_path / "slow_judge.py").write_text(SLOW_JUDGE)
    (tmp_path / "spec.toml").write_text(SPEC)
    command = [sys.executable, "-m", "tutelage.cli", "--plugin", "slow_judge.py", "run"]
    killed = subprocess.Popen([*command, "spec.toml", "--out", "killed", "--quiet"], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while not list(tmp_path.glob("killed/*/datasets/labels/parts/part-00001.parquet")):
        assert killed.poll() is None and time.time() < deadline, killed.stderr.read().decode()
        time.sleep(0.05)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    run_dir = next((tmp_path / "killed").glob("judged-*"))
    assert not (run_dir / "datasets" / "labels" / "preferences.parquet").exists()
    resumed = subprocess.run([*command, "--resume", str(run_dir), "--quiet"], cwd=tmp_path, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    clean = subprocess.run([*command, "spec.toml", "--out", "clean", "--quiet"], cwd=tmp_path, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    clean_dir = next((tmp_path / "clean").glob("judged-*"))
    for name in ("preferences.parquet", "oracle.parquet"):
        a = pq.read_table(run_dir / "datasets" / "labels" / name)
        b = pq.read_table(clean_dir / "datasets" / "labels" / name)
        assert a.num_rows == 12 and a.equals(b), name
