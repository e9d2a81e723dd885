"""Generation and failure search on the PyBullet driving world."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tutelage.data import Dataset, read_info
from tutelage.errors import SpecError
from tutelage.plugins import get_host
from tutelage.rollouts.failure_search import SearchSpace, search_failures
from tutelage.sim.catalogue import load_catalogue
from tutelage.rollouts.generate import generate
from tutelage.sim.scenarios import sampler_for

from test_generate import assert_same_dataset

WORLD = "tutelage/Driving-v0"


@pytest.fixture(scope="module")
def driving(tmp_path_factory):
    out = tmp_path_factory.mktemp("driving") / "ds"
    generate(WORLD, "random", 6, out, episodes_per_shard=2, max_steps=40, seed=5, edge_case_fraction=0.5)
    return out


def test_processes_write_the_same_pybullet_episodes(driving, tmp_path):
    generate(WORLD, "random", 6, tmp_path / "ds", episodes_per_shard=2, max_steps=40, seed=5,
             edge_case_fraction=0.5, workers=2)
    assert_same_dataset(driving, tmp_path / "ds")


def test_driving_columns_and_scenarios(driving):
    ds = Dataset(driving)
    arrays = ds.to_arrays(["observation.state", "action", "info.collision", "scenario.friction"])
    assert arrays["observation.state"].shape == (240, 38) and arrays["action"].shape == (240, 2)
    meta = ds.meta.to_pandas()
    assert (meta["edge_case"] != "").sum() >= 1, "an edge-case fraction of 0.5 drew no edge case in 6 episodes"
    for row in meta.itertuples():
        scenario = json.loads(row.scenario)
        frames = ds.episode(row.episode_index, ["scenario.friction"])["scenario.friction"]
        assert np.all(frames == scenario["friction"])
        if row.edge_case:
            assert scenario["edge_cases"] == [name.strip() for name in row.edge_case.split("+")]
    assert read_info(driving)["world"] == WORLD


def test_search_space_covers_defaults_and_edge_cases():
    space = SearchSpace(sampler_for(WORLD))
    low, high, integer = space.numeric["friction"]
    assert low <= 0.1 and high >= 1.0 and not integer  # ice and dry
    assert space.numeric["traffic_count"][2]
    assert "layout_seed" in space.seeds
    rng = np.random.default_rng(0)
    elites = [space.random(rng)[0] for _ in range(4)]
    model = space.fit(elites)
    child = space.refine(rng, elites[0], model)
    assert low <= child["friction"] <= high and child["friction"] != elites[0]["friction"]
    assert child["layout_seed"] == elites[0]["layout_seed"]
    assert low <= space.uniform(rng)["friction"] <= high


def test_catalogue_replays_the_failures_it_found(tmp_path):
    catalogue = search_failures(WORLD, "random", get_host(), budget=4, population=2, seed=1, max_steps=30)
    assert catalogue.search["evaluated"] == 4 and len(catalogue.search["rounds"]) == 2
    assert catalogue.entries and all(entry["reasons"] for entry in catalogue.entries)
    path = tmp_path / "catalogue.json"
    catalogue.save(path)
    out = tmp_path / "replay"
    generate(WORLD, "random", len(catalogue.entries), out, max_steps=30, scenarios=path)
    meta = Dataset(out).meta.to_pylist()
    assert [row["return"] for row in meta] == [entry["return"] for entry in catalogue.entries]
    assert read_info(out)["generation"]["scenarios_sha256"] == load_catalogue(path).sha256


def test_bad_catalogues_name_file_and_field(tmp_path):
    path = tmp_path / "catalogue.json"
    catalogue = search_failures(WORLD, "random", get_host(), budget=2, population=2, seed=1, max_steps=5)
    data = catalogue.as_dict()
    data["entries"][0]["scenario"]["friction"] = 9.0
    path.write_text(json.dumps(data))
    with pytest.raises(SpecError, match=r"catalogue.json: entries\[0\].scenario: friction"):
        load_catalogue(path)
    with pytest.raises(SpecError, match="field 'world'"):
        load_catalogue(path, world="tutelage/Reach-v0")
    with pytest.raises(SpecError, match="not found"):
        load_catalogue(tmp_path / "missing.json")


def test_camera_frames_are_png_in_the_dataset(tmp_path):
    generate(WORLD, "random", 2, tmp_path / "ds", max_steps=4, camera=True)
    ds = Dataset(tmp_path / "ds")
    shape = ds.info["features"]["observation.images.rgb"]["shape"]
    raw = ds.episode(1, ["observation.images.rgb"])["observation.images.rgb"]
    assert all(frame[:8] == b"\x89PNG\r\n\x1a\n" for frame in raw)
    images = ds.episode(1, ["observation.images.rgb"], decode_images=True)["observation.images.rgb"]
    assert images.shape == (4, *shape) and images.dtype == np.uint8 and images.std() > 0


def test_failures_command_writes_a_catalogue(tmp_path):
    import subprocess
    import sys

    command = [sys.executable, "-m", "tutelage.cli", "failures", WORLD, "--policy", "random", "--budget", "2",
               "--population", "2", "--max-steps", "5", "--out", str(tmp_path / "failures.json")]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert load_catalogue(tmp_path / "failures.json", world=WORLD).search["evaluated"] == 2
    done = subprocess.run([*command[:4], "CartPole-v1", *command[5:]], capture_output=True, text=True)
    assert done.returncode == 2 and "has no scenario sampler" in done.stderr


def test_generate_command_takes_a_scenario_file(tmp_path):
    from tutelage.cli import main

    scenarios = tmp_path / "icy.toml"
    scenarios.write_text(f'world = "{WORLD}"\n[parameters]\nfriction = {{ low = 0.1, high = 0.12 }}\n')
    out = tmp_path / "icy"
    args = ["generate", WORLD, "--policy", "random", "--episodes", "2", "--max-steps", "3", "--quiet"]
    assert main([*args, "--out", str(out), "--scenario-file", str(scenarios)]) == 0
    friction = Dataset(out).to_arrays(["scenario.friction"])["scenario.friction"]
    assert friction.min() >= 0.1 and friction.max() <= 0.12
    scenarios.write_text(f'world = "{WORLD}"\n[parameters]\nfriction = {{ low = 0.1, high = 9.0 }}\n')
    assert main([*args, "--out", str(tmp_path / "bad"), "--scenario-file", str(scenarios)]) == 2
    assert not (tmp_path / "bad").exists()


def test_generate_refuses_another_worlds_scenarios(tmp_path):
    from tutelage.sim.scenarios import ScenarioSampler

    with pytest.raises(SpecError, match="scenarios are for 'tutelage/Reach-v0'"):
        generate(WORLD, "random", 1, tmp_path / "out", sampler=ScenarioSampler.for_world("tutelage/Reach-v0"))
    assert not (tmp_path / "out").exists()
