"""Evaluation on held-out scenarios: any policy form, per-episode records, edge cases."""
import numpy as np
import pytest

from tutelage.methods.episodes import plan_episodes
from tutelage.methods.evaluate import evaluate
from tutelage.methods.policy import as_policy


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
    assert [r["steps"] for r in result.episodes] == [50] * 4
    assert len({r["seed"] for r in result.episodes}) == 4 and all(r["seed"] >= 2**32 for r in result.episodes)
    summary = result.as_dict()
    assert summary["episodes"] == 4 and summary["collisions_per_km"] is None and summary["by_edge_case"] == {}
    again = evaluate(expert, "CartPole-v1", episodes=4, max_steps=50, quiet=True, seed=3)
    assert again.episodes == result.episodes


def test_edge_cases_are_planned_by_name_and_share():
    pytest.importorskip("pybullet")
    import tutelage.worlds  # noqa: F401  (registers the worlds with Gymnasium)
    from tutelage.sim.scenarios import ScenarioSampler

    names = ScenarioSampler.for_world("tutelage/Driving-v0").edge_case_names
    plan = plan_episodes("tutelage/Driving-v0", 2 * len(names) + 10, split="held-out", edge_case_fraction=0.5)
    asked = [p.edge_case for p in plan if p.edge_case]
    assert len(asked) == round(0.5 * len(plan)) and set(asked) == set(names)
    assert all(p.scenario["edge_cases"] == [n.strip() for n in p.edge_case.split("+")] for p in plan if p.edge_case)


def test_driving_evaluation_reports_collisions_per_km_and_edge_cases():
    pytest.importorskip("pybullet")
    import tutelage.worlds  # noqa: F401  (registers the worlds with Gymnasium)
    from tutelage.plugins import registry

    expert = registry("teachers").get("driving-expert")()
    result = evaluate(expert, "tutelage/Driving-v0", episodes=3, edge_case_fraction=0.67, max_steps=40, quiet=True)
    assert result.collisions_per_km is not None and all(r["distance_m"] > 0 for r in result.episodes)
    assert sum(v["episodes"] for v in result.by_edge_case.values()) == 2
    assert result.edge_case_share == pytest.approx(2 / 3)

    def brake(observation, info):
        return np.array([0.0, -1.0], np.float32)

    parked = evaluate(brake, "tutelage/Driving-v0", episodes=2, max_steps=40, quiet=True, edge_case_fraction=0.0)
    assert parked.success_rate == 0.0 and all(r["distance_m"] < 0.5 for r in parked.episodes)
