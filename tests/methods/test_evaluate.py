"""Evaluation on held-out scenarios: any policy form, per-episode records, edge cases."""
import numpy as np
import pytest

from tutelage.errors import SpecError
from tutelage.methods.evaluate import evaluate
from tutelage.rollouts.plan import EpisodePlanner
from tutelage.rollouts.policy import as_policy


def test_callables_teachers_and_models_are_all_policies(expert, make_student):
    class Teacher:
        name, privileged = "cartpole", True

        def act(self, observation, info):
            return expert(observation, info)

    results = [evaluate(p, "CartPole-v1", episodes=3, max_steps=100, quiet=True)
               for p in (expert, Teacher(), lambda observation: expert(observation, {}))]
    assert [r.mean_return for r in results] == [100.0, 100.0, 100.0]
    model = evaluate(make_student(), "CartPole-v1", episodes=3, max_steps=100, quiet=True)
    assert model.mean_return < 100.0  # an untrained model is a real, different policy
    with pytest.raises(TypeError, match="policy"):
        as_policy(42)


def test_records_and_summary(expert):
    result = evaluate(expert, "CartPole-v1", episodes=4, max_steps=50, quiet=True, seed=3)
    assert [r["length"] for r in result.episodes] == [50] * 4
    assert len({r["env_seed"] for r in result.episodes}) == 4 and all(r["env_seed"] >= 2**32 for r in result.episodes)
    summary = result.as_dict()
    assert summary["episodes"] == 4 and "collisions_per_km" not in summary and summary["metrics"] == [] and summary["by_edge_case"] == {}
    again = evaluate(expert, "CartPole-v1", episodes=4, max_steps=50, quiet=True, seed=3)
    assert again.episodes == result.episodes


def test_edge_cases_are_planned_by_name_and_share():
    pytest.importorskip("pybullet")
    import tutelage.worlds  # noqa: F401  (registers the worlds with Gymnasium)
    from tutelage.sim.scenarios import ScenarioSampler

    sampler = ScenarioSampler.for_world("tutelage/Driving-v0")
    names = sampler.edge_case_names
    plan = EpisodePlanner(sampler, split="held-out", edge_case_fraction=0.5).plans(0, 2 * len(names) + 10)
    asked = [p.edge_case for p in plan if p.edge_case]
    assert len(asked) == int(0.5 * len(plan)) and set(asked) == set(names)
    assert [bool(p.edge_case) for p in plan[:4]] == [False, True, False, True]  # spread evenly, not bunched
    assert all(p.scenario["edge_cases"] == [n.strip() for n in p.edge_case.split("+")] for p in plan if p.edge_case)


def test_driving_evaluation_reports_collisions_per_km_and_edge_cases():
    pytest.importorskip("pybullet")
    import tutelage.worlds  # noqa: F401  (registers the worlds with Gymnasium)
    from tutelage.plugins import registry

    expert = registry("teachers").get("driving-expert")()
    result = evaluate(expert, "tutelage/Driving-v0", episodes=3, edge_case_fraction=0.67, max_steps=40, quiet=True)
    assert result.summary["collisions_per_km"] is not None and all(r["distance_m"] > 0 for r in result.episodes)
    assert {m.name for m in result.metrics} >= {"collisions_per_km", "off_road", "min_ttc"}
    assert sum(v["episodes"] for v in result.by_edge_case.values()) == int(3 * 0.67)
    assert result.edge_case_share == pytest.approx(int(3 * 0.67) / 3)

    def brake(observation, info):
        return np.array([0.0, -1.0], np.float32)

    parked = evaluate(brake, "tutelage/Driving-v0", episodes=2, max_steps=40, quiet=True, edge_case_fraction=0.0)
    assert parked.success_rate == 0.0 and all(r["distance_m"] < 0.5 for r in parked.episodes)


def test_parallel_evaluation_gives_the_same_records_for_any_worker_count():
    pytest.importorskip("pybullet")
    from tutelage.plugins import get_host
    from tutelage.rollouts.policy import resolve_policy

    spec = resolve_policy("expert", "tutelage/Reach-v0", get_host())
    runs = [evaluate(spec, "tutelage/Reach-v0", episodes=6, max_steps=25, quiet=True, workers=workers, edge_case_fraction=0.5)
            for workers in (1, 2)]
    assert runs[0].episodes == runs[1].episodes
    assert runs[0].summary["final_distance"] is not None and len(runs[0].by_edge_case) >= 1
    with pytest.raises(SpecError, match="PolicySpec"):
        evaluate(lambda observation: observation, "tutelage/Reach-v0", episodes=2, workers=2, quiet=True)
