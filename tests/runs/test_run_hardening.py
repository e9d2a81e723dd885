"""Registry rows per run, resume removes stray temporaries, a numerical stop marks its stage failed."""
from __future__ import annotations

import json
import sqlite3
import textwrap

from runs_helpers import TINY, cli, only_run_dir
from tutelage.runs.registry import Lineage


def test_a_model_made_by_two_runs_belongs_to_both(tmp_path):
    lineage = Lineage(tmp_path / "lineage.db")
    for run in ("run-a", "run-b"):
        lineage.add_run(run, "tiny", str(tmp_path / run), "w", 0)
        lineage.add_dataset("d1", run_id=run, path="p", world="w", policy="expert", episodes=2)
        lineage.add_model("m1", run_id=run, path="p", model_type="mlp", method="bc", dataset="d1")
    lineage.add_model("m1", run_id="run-a", path="p", model_type="mlp", method="bc")  # a resumed run: no new row
    (model,) = lineage.models()
    assert model["runs"] == ["run-a", "run-b"] and model["run_id"] == "run-a"
    assert lineage.model("m1")["runs"] == ["run-a", "run-b"]
    (dataset,) = lineage.datasets()
    assert dataset["runs"] == ["run-a", "run-b"]
    lineage.set_model_metrics("m1", {"success_rate": 0.5})
    assert lineage.model("m1")["metrics"] == {"success_rate": 0.5}


def test_a_registry_keyed_by_id_alone_is_rekeyed(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(textwrap.dedent("""
            CREATE TABLE models (id TEXT PRIMARY KEY, run_id TEXT, path TEXT NOT NULL, model_type TEXT, method TEXT,
                parent TEXT, dataset TEXT, teacher TEXT, n_params INTEGER, size_bytes INTEGER, metrics TEXT,
                created REAL NOT NULL);
            CREATE TABLE datasets (id TEXT PRIMARY KEY, run_id TEXT, path TEXT NOT NULL, world TEXT, policy TEXT,
                parent_model TEXT, episodes INTEGER, synthetic_share REAL, created REAL NOT NULL);
            INSERT INTO models (id, run_id, path, method, created) VALUES ('m1', 'old-run', 'p', 'bc', 1.0);
        """))
    lineage = Lineage(path)
    lineage.add_model("m1", run_id="new-run", path="p", model_type="mlp", method="bc")
    assert lineage.models()[0]["runs"] == ["old-run", "new-run"]


def test_resume_removes_a_zero_byte_temporary_plot(tmp_path, capsys):
    out = tmp_path / "runs"
    assert cli("run", str(TINY), "--out", str(out), "--registry", str(tmp_path / "l.db"), "--quiet", "--json") == 0
    run_dir = only_run_dir(out)
    stray = [run_dir / "plots" / ".tmp-learning.png.x1", run_dir / ".tmp-report.html.x2"]
    for path in stray:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"")
    assert cli("run", "--resume", str(run_dir), "--registry", str(tmp_path / "l.db"), "--quiet") == 0
    assert not any(path.exists() for path in stray)
    assert not list(run_dir.rglob(".tmp-*"))


DIVERGE = '''
import numpy as np
from tutelage import hookimpl, nn
from tutelage.train import fit

class Diverge:
    name = "diverge"
    settings = {}

    def run(self, context, settings):
        X = np.random.default_rng(0).standard_normal((32, 4)).astype(np.float32)
        model = nn.Sequential([nn.Dense(4), nn.Dense(1)], input_shape=(4,))
        fit(model, X, X[:, :1] * 1e3, optimizer="sgd", lr=1e30, epochs=3, quiet=True)
        return {}

@hookimpl
def tutelage_stage_types():
    return {"diverge": Diverge()}
'''


def test_a_numerical_stop_marks_the_stage_failed_with_the_reason(tmp_path, capsys):
    plugin = tmp_path / "diverge_plugin.py"
    plugin.write_text(DIVERGE)
    spec = tmp_path / "diverge.toml"
    spec.write_text('name = "div"\nworld = "test/Line-v0"\n\n[[stages]]\nname = "data"\ntype = "count"\nshards = 1\n\n'
                    '[[stages]]\nname = "boom"\ntype = "diverge"\n')
    registry = tmp_path / "l.db"
    code = cli("--plugin", str(plugin), "run", str(spec), "--out", str(tmp_path / "runs"), "--registry", str(registry),
               "--quiet")
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "became" in err and len(err.strip().splitlines()) == 1
    state = json.loads((only_run_dir(tmp_path / "runs") / "state.json").read_text())
    assert state["status"] == "failed" and state["failed_stage"]["name"] == "boom"
    assert "became" in state["failed_stage"]["reason"]
    assert Lineage(registry).runs()[0]["status"] == "failed"
