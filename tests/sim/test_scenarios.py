"""Scenario sampling: declared ranges, edge cases, TOML files and their errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tutelage.errors import SpecError, UnknownNameError
from tutelage.sim.scenarios import ScenarioSampler

ROOT = Path(__file__).resolve().parents[2]
DRIVING = "tutelage/Driving-v0"


@pytest.fixture(scope="module")
def sampler() -> ScenarioSampler:
    return ScenarioSampler.for_world(DRIVING)


def test_sampling_is_deterministic_given_the_generator(sampler):
    first = sampler.sample(np.random.default_rng(7))
    assert first == sampler.sample(np.random.default_rng(7))
    assert first != sampler.sample(np.random.default_rng(8))
    assert first["edge_cases"] == [] and first["world"] == DRIVING
    assert set(sampler.parameter_names) <= set(first)


def test_samples_stay_inside_declared_ranges(sampler):
    rng = np.random.default_rng(0)
    for _ in range(200):
        scenario = sampler.sample(rng)
        assert 30.0 <= scenario["road_length"] <= 45.0
        assert 1 <= scenario["traffic_count"] <= 4 and isinstance(scenario["traffic_count"], int)
        assert scenario["cyclist_fraction"] == 0.3


def test_edge_cases_override_and_combine(sampler):
    rng = np.random.default_rng(1)
    combo = "pedestrian-crossing + ice + heavy-sensor-noise + night"
    assert combo in sampler.edge_case_names
    scenario = sampler.sample(rng, combo)
    assert scenario["edge_cases"] == ["pedestrian-crossing", "ice", "heavy-sensor-noise", "night"]
    assert 0.1 <= scenario["friction"] <= 0.2
    assert scenario["pedestrian_crossing_prob"] == 1.0
    assert scenario["light"] <= 0.25 and scenario["sensor_noise"] >= 0.1
    with pytest.raises(UnknownNameError, match="did you mean 'ice'"):
        sampler.sample(rng, "icy")


@pytest.mark.parametrize(("stem", "world"), [("driving", DRIVING), ("reach", "tutelage/Reach-v0"), ("push", "tutelage/Push-v0")])
def test_shipped_files_equal_the_built_in_defaults(stem, world):
    assert ScenarioSampler.from_toml(ROOT / "sims" / "scenarios" / f"{stem}.toml") == ScenarioSampler.for_world(world)


def test_to_toml_round_trips(sampler, tmp_path):
    narrowed = sampler.with_overrides(friction=(0.2, 0.3), lane_width=1.0)
    path = tmp_path / "narrow.toml"
    path.write_text(narrowed.to_toml())
    assert ScenarioSampler.from_toml(path) == narrowed
    scenario = narrowed.sample(np.random.default_rng(3))
    assert 0.2 <= scenario["friction"] <= 0.3 and scenario["lane_width"] == 1.0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[parameters]\nfriction = { low = 0.9, high = 0.5 }\n", r"bad\.toml: parameters\.friction: low 0\.9 is greater than high 0\.5"),
        ("[parameters]\nfrictoin = 0.5\n", r"bad\.toml: parameters\.frictoin.*did you mean 'friction'"),
        ("[parameters]\nfriction = { low = 0.5, high = 9.0 }\n", r"parameters\.friction\.high: 9\.0 is outside the supported range"),
        ("[parameters]\ntraffic_count = { low = 1, high = 2.5 }\n", r"parameters\.traffic_count\.high: expected an integer"),
        ("[parameters]\nfriction = { lo = 0.1 }\n", r"parameters\.friction: expected a value"),
        ("[edge_cases.blizzard]\nsnow = 1.0\n", r"edge_cases\.blizzard\.snow.*unknown scenario parameter"),
        ('combos = ["ice + fog"]\n', r"bad\.toml: combos: unknown edge case.*'fog'"),
        ("wheels = 3\n", r"bad\.toml: unknown key 'wheels'"),
    ],
)
def test_bad_files_name_the_file_and_key(tmp_path, body, message):
    path = tmp_path / "bad.toml"
    path.write_text(f'world = "{DRIVING}"\n' + body)
    with pytest.raises(SpecError, match=message):
        ScenarioSampler.from_toml(path)


def test_missing_world_and_unknown_world(tmp_path):
    path = tmp_path / "noworld.toml"
    path.write_text("[parameters]\nfriction = 0.5\n")
    with pytest.raises(SpecError, match="noworld.toml: missing key 'world'"):
        ScenarioSampler.from_toml(path)
    path.write_text('world = "tutelage/Drivng-v0"\n')
    with pytest.raises(UnknownNameError, match="did you mean 'tutelage/Driving-v0'"):
        ScenarioSampler.from_toml(path)


def test_validate_rejects_incomplete_or_out_of_range_scenarios(sampler):
    scenario = sampler.sample(np.random.default_rng(0))
    assert sampler.validate(scenario) == scenario
    with pytest.raises(SpecError, match="missing parameters \\['friction'\\]"):
        sampler.validate({k: v for k, v in scenario.items() if k != "friction"})
    with pytest.raises(SpecError, match="friction: -1 is outside"):
        sampler.validate({**scenario, "friction": -1})
    with pytest.raises(SpecError, match="unknown scenario parameter"):
        sampler.validate({**scenario, "gravity": 3.0})


def test_held_out_cases_and_their_combinations_stay_out_of_training(sampler):
    seed_case = "unicyclist-crossing + highway + thunderstorm"
    assert seed_case in sampler.held_out_names and seed_case not in sampler.edge_case_names
    assert sampler.is_held_out(seed_case) and "highway" in sampler.held_out_names
    assert sampler.is_held_out("thunderstorm") and sampler.is_held_out("ice + highway")
    assert not sampler.is_held_out("ice") and not sampler.is_held_out(None)
    training = sampler.in_distribution()
    assert not any(sampler.is_held_out(name) for name in training.edge_case_names)
    assert "ice" in training.edge_case_names and "dense-traffic + wet + night" in training.edge_case_names
    with pytest.raises(UnknownNameError, match="'highway'"):
        training.sample(np.random.default_rng(0), "highway")
    rng = np.random.default_rng(3)
    assert all(s["unicyclist_count"] == 0 and s["road_type"] == "two-lane" and s["lightning"] == 0.0
               for s in (training.sample(rng) for _ in range(50)))
    scenario = sampler.sample(rng, seed_case)
    assert scenario["road_type"] == "highway" and scenario["unicyclist_count"] >= 1 and scenario["lightning"] > 0


def test_held_out_is_read_from_a_scenario_file(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text(
        f'world = "{DRIVING}"\ncombos = ["ice + night"]\nheld_out = ["ice + night", "sharp-curves"]\n'
        '[edge_cases.fog]\nlight = { low = 0.3, high = 0.5 }\n'
    )
    study = ScenarioSampler.from_toml(path)
    assert study.held_out == ("ice + night", "sharp-curves")
    assert study.is_held_out("ice + night") and not study.is_held_out("ice")
    assert study.is_held_out("fog + sharp-curves") and not study.is_held_out("thunderstorm")
    assert "sharp-curves" not in study.in_distribution().edge_case_names
    again = tmp_path / "again.toml"
    again.write_text(study.to_toml())
    assert ScenarioSampler.from_toml(again) == study
    path.write_text(f'world = "{DRIVING}"\nheld_out = ["ice + fgo"]\n')
    with pytest.raises(SpecError, match=r"study\.toml: held_out: unknown edge case.*'fgo'"):
        ScenarioSampler.from_toml(path)
    path.write_text(f'world = "{DRIVING}"\nheld_out = true\n')
    with pytest.raises(SpecError, match=r"study\.toml: held_out: expected a list"):
        ScenarioSampler.from_toml(path)
