"""A run killed with SIGKILL and resumed ends with the same models as an uninterrupted run."""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from runs_helpers import TINY, cli, cli_process, only_run_dir, summary_of

SLOW = (("shards = 4", "shards = 4\ndelay = 0.25"), ("epochs = 30", "epochs = 30\ndelay = 0.03"))


@pytest.fixture(scope="module")
def slow_spec(tmp_path_factory) -> Path:
    """The tiny spec with pauses in its shard and epoch loops, so a kill can land inside them."""
    text = TINY.read_text()
    for old, new in SLOW:
        text = text.replace(old, new)
    path = tmp_path_factory.mktemp("spec") / "tiny.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def reference(slow_spec, tmp_path_factory) -> Path:
    """The same run, never interrupted."""
    out = tmp_path_factory.mktemp("reference")
    assert cli("run", str(slow_spec), "--out", str(out), "--quiet") == 0
    return only_run_dir(out)


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the run never reached the point to kill it at")
        time.sleep(0.02)


def model_bytes(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((run_dir / "models").glob("*.safetensors"))}


def kill_points(run_dir_of):
    """Where to kill: inside the shard loop of the first stage, or inside the second stage's epochs."""
    def mid_shards(out: Path) -> bool:
        run = run_dir_of(out)
        return run is not None and len(list((run / "datasets" / "data").glob("shard-*.npy"))) >= 2

    def mid_training(out: Path) -> bool:
        run = run_dir_of(out)
        metrics = run / "metrics.jsonl" if run else None
        return bool(metrics and metrics.exists() and metrics.read_text().count('"student"') >= 5)

    return {"mid-shards": mid_shards, "mid-training": mid_training}


def _run_dir(out: Path) -> Path | None:
    runs = [p for p in out.iterdir() if p.is_dir()] if out.exists() else []
    return runs[0] if runs else None


@pytest.mark.parametrize("point", ["mid-shards", "mid-training"])
def test_resume_after_sigkill_gives_identical_models(slow_spec, reference, tmp_path, point):
    killed_out = tmp_path / "killed"
    process = cli_process("run", str(slow_spec), "--out", str(killed_out), "--quiet")
    try:
        wait_for(lambda: kill_points(_run_dir)[point](killed_out))
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    run_dir = only_run_dir(killed_out)
    state = json.loads((run_dir / "state.json").read_text())
    assert state["status"] == "running"  # SIGKILL gave it no chance to say anything
    assert not (run_dir / "report.html").exists()
    first_shard = run_dir / "datasets" / "data" / "shard-000.npy"
    shard_written = first_shard.stat().st_mtime_ns

    assert cli("run", "--resume", str(run_dir), "--quiet") == 0
    assert first_shard.stat().st_mtime_ns == shard_written, "a finished shard was written again"
    assert model_bytes(run_dir) == model_bytes(reference) != {}
    resumed, uninterrupted = summary_of(run_dir), summary_of(reference)
    for label, metrics in uninterrupted["policies"].items():
        assert resumed["policies"][label]["success_rate"] == metrics["success_rate"]
        assert resumed["policies"][label].get("model_id") == metrics.get("model_id")
    curve = [r for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if r["stage"] == "student" and r["kind"] == "curve"]
    assert [r["x"] for r in curve] == list(range(30)), "metrics of the killed stage must not be duplicated"
    ends = [r["stage"] for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if r["kind"] == "stage"]
    assert ends == ["data", "student", "int8", "eval"]
    assert json.loads((run_dir / "state.json").read_text())["status"] == "finished"


def test_sigterm_stops_the_run_and_says_how_to_resume(slow_spec, tmp_path):
    out = tmp_path / "out"
    process = cli_process("run", str(slow_spec), "--out", str(out), "--quiet")
    wait_for(lambda: kill_points(_run_dir)["mid-shards"](out))
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130
    run_dir = only_run_dir(out)
    assert f"tutelage run --resume {run_dir}" in err
    assert json.loads((run_dir / "state.json").read_text())["status"] == "interrupted"


def test_resume_of_a_folder_that_is_not_a_run_is_a_clear_error(tmp_path, capsys):
    assert cli("run", "--resume", str(tmp_path)) == 2
    assert "not a run folder to resume" in capsys.readouterr().err
