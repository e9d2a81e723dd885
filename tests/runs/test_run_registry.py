"""The lineage registry: family tree, model cards, and concurrent writers on one SQLite file."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

from runs_helpers import TINY, cli, cli_process, summary_of
from tutelage.runs.registry import Lineage


def run_tiny(out, registry, capsys) -> dict:
    assert cli("run", str(TINY), "--out", str(out), "--registry", str(registry), "--quiet", "--json") == 0
    return json.loads(capsys.readouterr().out)


def test_tree_goes_teacher_then_student_then_int8(tmp_path, capsys):
    registry = tmp_path / "lineage.db"
    summary = run_tiny(tmp_path / "runs", registry, capsys)
    ids = {m["stage"]: m["id"] for m in summary["models"]}
    assert cli("models", "--registry", str(registry), "--tree", "--json") == 0
    (root,) = json.loads(capsys.readouterr().out)
    assert root["teacher"] == "oracle"
    (student,) = root["children"]
    assert student["model"]["id"] == ids["student"] and student["model"]["method"] == "fit"
    (int8,) = student["children"]
    assert int8["model"]["id"] == ids["int8"] and int8["model"]["parent"] == ids["student"]
    assert int8["model"]["metrics"]["success_rate"] == summary["policies"]["int8"]["success_rate"]

    assert cli("models", "--registry", str(registry), "--tree") == 0
    drawn = capsys.readouterr().out
    assert drawn.index("teacher oracle") < drawn.index(ids["student"][:12]) < drawn.index(ids["int8"][:12])
    assert "└──" in drawn


def test_model_card_and_table(tmp_path, capsys):
    registry = tmp_path / "lineage.db"
    summary = run_tiny(tmp_path / "runs", registry, capsys)
    int8 = next(m for m in summary["models"] if m["stage"] == "int8")
    assert cli("show", int8["id"][:6], "--registry", str(registry), "--json") == 0
    card = json.loads(capsys.readouterr().out)
    assert card["id"] == int8["id"] and card["method"] == "int8" and card["file_exists"]
    assert card["parent_model"]["method"] == "fit" and card["run"]["status"] == "finished"
    assert cli("show", int8["id"], "--registry", str(registry)) == 0
    assert "parent" in capsys.readouterr().out
    assert cli("models", "--registry", str(registry)) == 0
    assert int8["id"][:8] in capsys.readouterr().out
    assert cli("show", "nonexistent", "--registry", str(registry)) == 2
    assert "unknown model (a name, file, id or id prefix) 'nonexistent'" in capsys.readouterr().err
    assert cli("show", "int8", "--registry", str(registry), "--json") == 0  # a run's stage name
    assert json.loads(capsys.readouterr().out)["id"] == int8["id"]


def test_missing_registry_is_a_clear_error(tmp_path, capsys):
    assert cli("models", "--registry", str(tmp_path / "none.db")) == 2
    assert "no lineage registry here" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()


def test_two_concurrent_runs_share_one_registry(tmp_path):
    registry = tmp_path / "shared" / "lineage.db"
    env = {"TUTELAGE_REGISTRY": str(registry)}
    processes = [cli_process("run", str(TINY), "--out", str(tmp_path / f"out{i}"), "--quiet", env=env) for i in range(2)]
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    lineage = Lineage(registry)
    runs = lineage.runs()
    assert len(runs) == 2 and {r["status"] for r in runs} == {"finished"}
    assert len(lineage.datasets()) == 2
    assert len(lineage.models()) == 2  # same seed, same content: both runs made the same two models
    with sqlite3.connect(registry) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    for i in range(2):
        (run_dir,) = (tmp_path / f"out{i}").iterdir()
        assert summary_of(run_dir)["policies"]["student"]["model_id"] in {m["id"] for m in lineage.models()}


WRITER = """
import sys
from tutelage.runs.registry import Lineage
lineage = Lineage(sys.argv[1])
for i in range(60):
    lineage.add_model(f"{sys.argv[2]}-{i}", run_id=sys.argv[2], path="m", model_type="mlp", method="bc",
                      parent=f"{sys.argv[2]}-{i - 1}" if i else None)
    lineage.set_model_metrics(f"{sys.argv[2]}-{i}", {"success_rate": i / 60})
"""


def test_concurrent_writers_lose_nothing(tmp_path):
    registry = tmp_path / "lineage.db"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(registry), name], stderr=subprocess.PIPE, text=True)
               for name in ("a", "b")]
    for writer in writers:
        assert writer.wait(timeout=120) == 0, writer.stderr.read()
    models = Lineage(registry).models()
    assert len(models) == 120
    assert all(m["metrics"]["success_rate"] == int(m["id"].split("-")[1]) / 60 for m in models)
