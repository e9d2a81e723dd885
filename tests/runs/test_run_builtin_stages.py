"""The built-in stages on the real driving world: generate → bc / DAgger → int8 → evaluate, resumable after a kill."""
from __future__ import annotations

import json
import signal
import subprocess
import sys

import numpy as np
import pytest

from runs_helpers import HERE, only_run_dir, summary_of
from test_run_resume import wait_for
from tutelage import nn
from tutelage.cli import main
from tutelage.data import Dataset
from tutelage.errors import UserError
from tutelage.plugins import get_host
from tutelage.runs.spec import load_spec, packaged_specs

SPEC = HERE / "driving_tiny.toml"


def run(*args: str) -> int:
    return main(["run", *args])


def process(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tutelage.cli", "run", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def driving_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("driving") / "runs"
    assert run(str(SPEC), "--out", str(out), "--quiet") == 0
    return only_run_dir(out)


def test_every_stage_leaves_what_the_report_needs(driving_run):
    summary = summary_of(driving_run)
    assert [s["name"] for s in summary["stages"]] == ["demos", "bc", "dagger", "int8", "eval"]
    policies = summary["policies"]
    assert policies["expert"]["role"] == "teacher" and policies["expert"].get("n_params") is None
    for student in ("bc", "dagger", "int8"):
        metrics = policies[student]
        assert metrics["role"] == "student" and metrics["episodes"] == 2 and metrics["n_params"] > 0
        assert 0.0 <= metrics["success_rate"] <= 1.0 and metrics["inference_us"] > 0
        assert sum(v["episodes"] for v in metrics["by_scenario"].values()) == 2
    assert policies["int8"]["file_bytes"] < policies["dagger"]["file_bytes"]
    dagger = next(s["result"] for s in summary["stages"] if s["name"] == "dagger")
    assert dagger["samples"] == 2 * 100 and dagger["kept_round"] in (0, 1)  # 150-step episodes, 100 labels kept of each
    for metrics in policies.values():  # the held-out edge cases, reported apart from the in-distribution ones
        held_out = metrics["held_out"]
        assert held_out["episodes"] == 3 and set(held_out["by_edge_case"]) <= set(load_spec(str(SPEC), get_host()).sampler().held_out_names)
        assert set(held_out["by_edge_case"]).isdisjoint(metrics["by_edge_case"])
    records = [json.loads(line) for line in (driving_run / "metrics.jsonl").read_text().splitlines()]
    assert {r["panel"] for r in records if r["kind"] == "curve"} >= {"bc: loss", "dagger: loss", "dagger: success rate"}
    assert [r["y"] for r in records if r.get("panel") == "dagger: beta"] == [1.0, 0.5]  # the spec's rampdown
    evaluations = {r["policy"]: r for r in records if r["kind"] == "evaluation"}
    assert {p: r["success_rate"] for p, r in evaluations.items()} == {p: m["success_rate"] for p, m in policies.items()}
    assert (driving_run / summary["gifs"][0]["path"]).read_bytes()[:6] == b"GIF89a"
    assert (driving_run / "report.html").stat().st_size > 10_000


def test_the_specs_scenario_ranges_reach_the_stages(driving_run):
    lengths = Dataset(driving_run / "datasets" / "demos").to_arrays(["scenario.road_length"])["scenario.road_length"]
    assert 31.0 <= lengths.min() and lengths.max() <= 32.0  # the world's default range is 30–45 m
    assert load_spec(str(SPEC), get_host()).sampler().parameters["road_length"].values() == [31.0, 32.0]


def test_a_spec_cannot_train_on_held_out_edge_cases(tmp_path):
    from tutelage.errors import SpecError
    from tutelage.sim.catalogue import FORMAT

    scenario_file = tmp_path / "all_in.toml"  # the world's scenarios with nothing held out
    scenario_file.write_text("\n".join("held_out = []" if line.startswith("held_out") else line for line in
                                      (HERE.parents[1] / "sims" / "scenarios" / "driving.toml").read_text().splitlines()))
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.read_text().replace("[scenarios]", f'[scenarios]\nfile = "{scenario_file.name}"', 1))
    with pytest.raises(SpecError, match="held out of training by tutelage/Driving-v0"):
        load_spec(str(spec), get_host())
    sampler = load_spec(str(SPEC), get_host()).sampler()
    scenario = sampler.sample(np.random.default_rng(0), edge_case="thunderstorm")
    catalogue = tmp_path / "storms.json"
    catalogue.write_text(json.dumps({"format": FORMAT, "world": "tutelage/Driving-v0", "policy": {}, "search": {},
                                     "entries": [{"scenario": scenario, "seed": 1, "edge_case": "thunderstorm"}]}))
    spec.write_text(SPEC.read_text().replace("max_steps = 150\n", f'max_steps = 150\nscenarios = "{catalogue.name}"\n', 1))
    with pytest.raises(SpecError, match="held-out edge cases .'thunderstorm'.: they are for evaluation only"):
        load_spec(str(spec), get_host())
    assert not (tmp_path / "runs").exists()


def test_kd_refuses_a_world_with_continuous_actions(tmp_path):
    from tutelage.errors import SpecError

    spec = tmp_path / "kd.toml"
    spec.write_text(SPEC.read_text().replace('[[stages]]\nname = "dagger"', '[[stages]]\nname = "kd"\ntype = "distill"\n'
                                             'method = "kd"\nteacher = "bc"\ndata = "demos"\n\n[[stages]]\nname = "dagger"', 1))
    with pytest.raises(SpecError, match=r"kd\.toml\.stages\[2\] \(kd\)\.method: method 'kd' distills a softmax over discrete actions, "
                                        r"but tutelage/Driving-v0 has continuous actions"):
        load_spec(str(spec), get_host())


@pytest.mark.parametrize("scenarios, words", [
    ("parameters = { road_lenght = 31.0 }", ["driving_tiny.toml.scenarios", "road_lenght", "road_length"]),
    ("parameters = { road_length = { low = 32.0, high = 31.0 } }", ["driving_tiny.toml.scenarios", "road_length"]),
    ('file = "nowhere.toml"', ["driving_tiny.toml.scenarios.file", "not found"]),
    ('combos = ["ice + nite"]', ["driving_tiny.toml.scenarios", "nite", "did you mean 'night'"]),
])
def test_bad_scenario_settings_are_caught_before_the_run(tmp_path, scenarios, words):
    spec = tmp_path / "driving_tiny.toml"
    narrowed = "parameters = { road_length = { low = 31.0, high = 32.0 } }"
    spec.write_text(SPEC.read_text().replace(narrowed, scenarios))
    with pytest.raises(UserError) as caught:
        load_spec(str(spec), get_host())
    for word in words:
        assert word in str(caught.value), str(caught.value)


def test_model_files_carry_their_lineage(driving_run):
    summary = summary_of(driving_run)
    models = {m["stage"]: nn.load(driving_run / m["path"]) for m in summary["models"]}
    assert models["dagger"].info["lineage"]["method"] == "dagger"
    assert models["dagger"].info["lineage"]["teacher"] == "driving-expert"
    assert models["bc"].info["lineage"]["dataset"] == summary["stages"][0]["result"]["dataset_id"]
    assert models["int8"].info["lineage"] == {**models["int8"].info["lineage"], "parent": models["dagger"].info["id"],
                                             "method": "int8"}


def test_show_reads_a_model_file_without_a_registry(driving_run, tmp_path, capsys):
    int8 = next(m for m in summary_of(driving_run)["models"] if m["stage"] == "int8")
    assert main(["show", str(driving_run / int8["path"]), "--registry", str(tmp_path / "none.db"), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["id"] == int8["id"] and card["method"] == "int8" and card["teacher"] == "driving-expert"


def test_packaged_specs_validate_fully_and_quickly():
    host = get_host()
    assert {"driving", "reach"} <= set(packaged_specs())
    for name in packaged_specs():
        full, quick = load_spec(name, host), load_spec(name, host, quick=True)
        assert [s.name for s in full.stages] == [s.name for s in quick.stages]
        assert full.stages != quick.stages, f"{name}: --quick changes nothing"


def test_sims_lists_the_packaged_specs(capsys):
    assert main(["sims", "--json"]) == 0
    listed = {spec["name"]: spec for spec in json.loads(capsys.readouterr().out)["sims"]}
    assert listed["driving"]["world"] == "tutelage/Driving-v0" and listed["reach"]["world"] == "tutelage/Reach-v0"
    assert listed["driving"]["stages"][-1] == "evaluation"


def test_resume_takes_no_spec(tmp_path, capsys):
    assert run("driving", "--resume", str(tmp_path)) == 2
    assert "do not also give SPEC" in capsys.readouterr().err


def test_a_bad_student_option_is_caught_before_the_run(tmp_path):
    spec = tmp_path / "bad.toml"
    spec.write_text(SPEC.read_text().replace("hidden = [8], output", "hiden = [8], output", 1))
    with pytest.raises(UserError, match=r"stages\[1\] \(bc\)\.student\.options: unknown option .*'hiden'; did you mean 'hidden'"):
        load_spec(str(spec), get_host())


def test_a_scenario_catalogue_is_found_beside_the_spec(tmp_path):
    spec = tmp_path / "replay.toml"
    spec.write_text(SPEC.read_text().replace("max_steps = 150\n", 'max_steps = 150\nscenarios = "hard.json"\n', 1))
    with pytest.raises(UserError, match=r"stages\[0\] \(demos\)\.scenarios: scenario catalogue .*hard\.json' not found"):
        load_spec(str(spec), get_host())
    (tmp_path / "hard.json").write_text("{}")  # read and checked at spec time, before anything is written
    with pytest.raises(UserError, match="hard.json: field 'format'"):
        load_spec(str(spec), get_host())
    scenario = load_spec(str(SPEC), get_host()).sampler().sample(np.random.default_rng(0), edge_case="ice")
    (tmp_path / "hard.json").write_text(json.dumps({"format": "tutelage-failure-catalogue", "world": "tutelage/Driving-v0",
                                                    "entries": [{"scenario": scenario, "seed": 1, "edge_case": "ice"}]}))
    assert load_spec(str(spec), get_host()).stages[0].settings["scenarios"] == str(tmp_path / "hard.json")


def test_sigkill_during_dagger_then_resume_gives_the_same_models(driving_run, tmp_path):
    spec = tmp_path / "slow.toml"  # more DAgger rounds, so there is time to kill inside them
    spec.write_text(SPEC.read_text().replace("rounds = 2\nepisodes_per_round = 1", "rounds = 8\nepisodes_per_round = 4"))
    reference_out, out = tmp_path / "reference", tmp_path / "killed"
    assert run(str(spec), "--out", str(reference_out), "--quiet") == 0
    child = process(str(spec), "--out", str(out), "--quiet")

    def in_dagger() -> bool:
        metrics = next(out.glob("*/metrics.jsonl"), None) if out.exists() else None
        return bool(metrics) and '"dagger: loss"' in metrics.read_text()

    try:
        wait_for(in_dagger, timeout=120)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    run_dir = only_run_dir(out)
    assert "dagger" not in json.loads((run_dir / "state.json").read_text())["done"]
    assert run("--resume", str(run_dir), "--quiet") == 0
    ids = lambda d: {m["stage"]: m["id"] for m in summary_of(d)["models"]}  # content hashes of θ
    assert ids(run_dir) == ids(only_run_dir(reference_out))
    assert summary_of(run_dir)["policies"]["dagger"]["success_rate"] == summary_of(only_run_dir(reference_out))["policies"]["dagger"]["success_rate"]


@pytest.mark.slow
def test_quick_default_run(tmp_path):
    """README's first command with --quick: the packaged driving spec end to end."""
    assert run("--quick", "--out", str(tmp_path), "--quiet") == 0
    summary = summary_of(only_run_dir(tmp_path))
    assert summary["quick"] and set(summary["policies"]) == {"expert", "bc-student", "dagger-student", "int8-student"}
    assert summary["stage_seconds"] < 120
