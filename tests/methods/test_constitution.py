"""The constitutional loop on the arm: critique → revise → fine-tune, lineage, and a learned critic."""
from __future__ import annotations

import numpy as np
import pytest

import tutelage.worlds  # noqa: F401  (registers the worlds)
from tutelage import nn
from tutelage.constitution import Step, load_constitution, packaged, rule_kinds
from tutelage.methods.constitution import (Records, agreement, constitutional_training, critic_dataset,
                                           critique_episodes, revision_targets, train_critic_model)
from tutelage.methods.lineage import Derivation, save_derived
from tutelage.plugins import get_host
from tutelage.rollouts.plan import EpisodePlanner
from tutelage.sim.scenarios import sampler_for
from tutelage.sim.spaces import io_sizes

REACH = "tutelage/Reach-v0"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A student that moves too fast near the table (a strict arm constitution), saved with an id."""
    host = get_host()
    folder = tmp_path_factory.mktemp("constitution")
    strict = folder / "strict.toml"
    strict.write_text(packaged("arm").read_text().replace("height = 0.12, max_speed = 0.6", "height = 0.6, max_speed = 0.3"))
    constitution = load_constitution(strict, rule_kinds(host))
    inputs, outputs = io_sizes(REACH)
    student = host.registry("model_types").get("mlp").build((inputs,), outputs, hidden=(32,), output_activation="tanh", seed=1)
    path = folder / "student.safetensors"
    save_derived(student, path, Derivation("init"))
    return host, constitution, nn.load(path), folder


def test_fine_tuning_on_revisions_is_a_derivative_with_the_constitution_in_its_lineage(setup, tmp_path):
    host, constitution, student, _ = setup
    critic = host.registry("critics").get("rules")(constitution=constitution)
    parent = student.info["id"]
    rounds = []
    tuned, derivation = constitutional_training(
        REACH, student, critic, constitution, tmp_path / "loop", rounds=2, episodes_per_round=2, seed=0,
        sampler=sampler_for(REACH), max_steps=40, epochs=30, lr=3e-3, on_round=lambda k, s, r: rounds.append(r),
    )
    assert rounds[1]["loss"] < 0.05
    assert derivation.parent == parent and derivation.method == "constitution"
    assert constitution.id in derivation.dataset and derivation.teacher == "critic:rules"
    assert [r["round"] for r in rounds] == [0, 1] and rounds[0]["violations"] > 0
    records = Records.read(tmp_path / "loop" / "round-0", constitution)
    X, Y = revision_targets(records, violation_weight=3)
    revised = [r for r in records.table.to_pylist() if "slow-near-table" in r["principles"]]
    assert revised and all(r["fixed"] for r in revised)
    assert max(np.abs(r["revised_action"]).max() for r in revised) <= 0.3 / 1.5 + 1e-6  # within the strict limit
    assert len(X) == len(Y) == records.table.num_rows + 2 * sum(records.column("violation"))
    plans = EpisodePlanner(sampler_for(REACH)).plans(0, 2, start=2)  # round 1's episodes, played again
    again = critique_episodes(REACH, tuned, critic, constitution, plans, tmp_path / "again", max_steps=40)
    before = Records.read(tmp_path / "loop" / "round-1", constitution).summary()
    after = again.summary()
    assert after["violating_steps"] / after["steps"] < before["violating_steps"] / before["steps"]  # lesson learned
    path = tmp_path / "tuned.safetensors"
    save_derived(tuned, path, derivation, metadata=constitution.lineage())
    info = nn.load(path).info
    assert info["lineage"]["parent"] == parent and info["metadata"]["constitution_sha256"] == constitution.sha256


def test_learned_critic_reads_sensors_only_and_reports_confidence(setup, tmp_path):
    host, constitution, student, _ = setup
    rules = host.registry("critics").get("rules")(constitution=constitution)
    records = constitutional_training(REACH, student, rules, constitution, tmp_path / "data", rounds=1,
                                      episodes_per_round=3, seed=5, sampler=sampler_for(REACH), max_steps=40, epochs=1)[1]
    data = Records.read(tmp_path / "data" / "round-0", constitution)
    X, Y = critic_dataset(data)
    assert Y.shape[1] == len(constitution.ids) + 7 and set(np.unique(Y[:, :3])) <= {0.0, 1.0}
    model = host.registry("model_types").get("mlp").build((X.shape[1],), Y.shape[1], hidden=(64,), seed=0)
    train_critic_model(model, data, epochs=60, seed=0)
    learned = host.registry("critics").get("learned")(constitution=constitution, model=model)
    result = agreement(learned, data)
    assert result["f1"] > 0.8, result  # fits what it was trained on; held-out figures are in benchmarks/
    row = data.table.slice(5, 1).to_pylist()[0]
    step = Step(np.array(row["observation"]), None, None if row["previous_action"] is None else np.array(row["previous_action"]))
    for critique in learned.review(step, np.array(row["action"])):
        assert 0.0 <= critique.confidence <= 1.0 and critique.method == "learned" and "confidence" in critique.reason
    assert records is not None
