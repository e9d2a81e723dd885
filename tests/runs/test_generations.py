"""The generations stage in a tiny run, the drift alarm stopping one, and the collapse guard of a run spec
(refusing before anything is written when the data's share can be foreseen; warning and recording otherwise)."""
from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

import tutelage.worlds  # noqa: F401  (registers the worlds)
from tutelage.cli import main
from tutelage.methods.lineage import read_lineage

LAB = """
name = "gens"
seed = 1
world = "tutelage/Driving-v0"

[[stages]]
name = "lab"
type = "generations"
source = "gaussian"
regimes = ["replace", "accumulate"]
generations = 2
seeds = 2
n = 40
"""

STAGES = """
[[stages]]
name = "{data}"
type = "generate"
policy = "{policy}"
episodes = 1
max_steps = 15

[[stages]]
name = "{model}"
type = "distill"
method = "bc"
data = "{data}"
student = {{ options = {{ hidden = [4] }} }}
epochs = 1
"""
# expert demonstrations → bc → bc's own rollouts → bc2 (learning from depth-1 data, 100 % synthetic)
SELF = ('name = "self"\nseed = 2\nworld = "tutelage/Driving-v0"\nGUARD\n'
        + STAGES.format(data="demos", policy="expert", model="bc") + STAGES.format(data="own", policy="bc", model="bc2"))


def run(tmp_path, text: str) -> int:
    spec = tmp_path / "spec.toml"
    spec.write_text(text)
    return main(["run", str(spec), "--out", str(tmp_path / "runs"), "--quiet"])


def run_dir(tmp_path):
    (folder,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    return folder


def test_generations_stage_runs_the_lab_in_a_tiny_spec(tmp_path):
    assert run(tmp_path, LAB) == 0
    folder = run_dir(tmp_path)
    rows = pq.read_table(folder / "generations" / "lab" / "results.parquet").to_pylist()
    assert len(rows) == 2 * 2 * 3
    assert {(r["regime"], r["generation"]) for r in rows} == {(r, g) for r in ("replace", "accumulate") for g in range(3)}
    replace = [r for r in rows if r["regime"] == "replace" and r["generation"] == 2]
    assert all(r["synthetic_share"] == 1.0 and r["synthetic_depth"] == 2 for r in replace)
    bands = pq.read_table(folder / "generations" / "lab" / "bands.parquet").to_pylist()
    assert all(b["low"] <= b["estimate"] <= b["high"] for b in bands)
    report = (folder / "report.html").read_text()
    assert "gaussian: real_nll" in report and "gaussian: var_ratio" in report


def test_drift_alarm_stops_the_run_with_a_clear_message(tmp_path, capsys):
    text = LAB.replace('regimes = ["replace", "accumulate"]', 'regimes = ["replace"]').replace("n = 40", "n = 5")
    assert run(tmp_path, text + "drift = 0.01\nstop_on_drift = true\n") == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "drift alarm: held-out real NLL rose" in err and "regime replace" in err and "the run stops here" in err


def test_refusing_guard_exits_2_naming_the_dataset_and_its_share_nothing_written(tmp_path, capsys):
    text = SELF.replace("GUARD", 'collapse_guard = { action = "refuse" }')
    assert run(tmp_path, text) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "dataset own (datasets/own)" in err and "synthetic share 100%" in err and "depth 1" in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_bad_guard_table_is_a_spec_error(tmp_path, capsys):
    assert run(tmp_path, SELF.replace("GUARD", 'collapse_guard = { action = "stop" }')) == 2
    assert "spec.toml.collapse_guard: field 'action'" in capsys.readouterr().err


def test_warning_guard_records_the_verdict_in_the_lineage(tmp_path):
    with pytest.warns(UserWarning, match="collapse guard: dataset own"):
        assert run(tmp_path, SELF.replace("GUARD", "")) == 0
    folder = run_dir(tmp_path)
    first, second = (read_lineage(folder / "models" / f"{name}.safetensors") for name in ("bc", "bc2"))
    assert first["data_depth"] == 0 and first["collapse_guard"]["status"] == "ok"
    assert second["data_depth"] == 1 and second["collapse_guard"]["status"] == "warn"
    info = json.loads((folder / "datasets" / "own" / "meta" / "info.json").read_text())
    assert info["synthetic_depth"] == 1
    assert main(["show", str(folder / "models" / "bc2.safetensors"), "--registry", str(tmp_path / "runs" / "lineage.db"),
                 "--json"]) == 0


@pytest.mark.slow
def test_driving_self_training_shares_generation_0_and_carries_depth_in_the_rows(tmp_path):
    """Generation 0 is one student per seed for every regime; each later generation's data is one deeper, and a
    fresh share of expert rows shows in the share computed from the rows."""
    from tutelage.methods.collapse_driving import self_training
    from tutelage.plugins import registry

    mlp = registry("model_types").get("mlp")
    rows = self_training("tutelage/Driving-v0", lambda seed: mlp.build((38,), 2, seed=seed, hidden=(4,)), tmp_path,
                         regimes=["replace", "fresh=0.5"], generations=2, seeds=[0], episodes=2, eval_episodes=1,
                         max_steps=15, epochs=1)
    by = {(r["regime"], r["generation"]): r for r in rows}
    assert len(rows) == 6 and by[("replace", 0)] == {**by[("fresh=0.5", 0)], "regime": "replace"}
    assert [by[("replace", g)]["synthetic_depth"] for g in range(3)] == [0, 1, 2]
    assert [by[("replace", g)]["synthetic_share"] for g in range(3)] == [0.0, 1.0, 1.0]
    assert by[("fresh=0.5", 2)]["synthetic_share"] == pytest.approx(2 / 3)  # 2 own episodes + 1 expert, 15 steps each
    assert by[("replace", 1)]["guard"] == "warn" and by[("replace", 0)]["guard"] == "ok"
    assert sorted(p.name for p in (tmp_path / "seed0").iterdir()) == ["fresh=0.5", "gen0", "replace", "student0.safetensors"]
