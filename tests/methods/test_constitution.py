"""The constitutional loop on the arm: critique → revise → fine-tune, lineage, and a learned critic."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import tutelage.worlds  # noqa: F401  (registers the worlds)
from tutelage import nn
from tutelage.constitution import Step, load_constitution, packaged, rule_kinds
from tutelage.errors import DataError
from tutelage.methods.constitution import (Records, agreement, choose_thresholds, constitutional_training, critic_dataset,
                                           critique_episodes, finetune, revision_targets, train_critic_model)
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
        sampler=sampler_for(REACH), max_steps=40, epochs=30, lr=3e-3, on_round=lambda k, s, r: rounds.append(r), targets="own",
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
    result = agreement(learned, data, bootstrap=200)
    assert result["f1"] > 0.8, result  # fits what it was trained on; held-out figures are in benchmarks/
    low, high = result["f1_interval"]  # over resampled episodes
    assert 0.0 <= low <= result["f1"] <= high <= 1.0
    row = data.table.slice(5, 1).to_pylist()[0]
    step = Step(np.array(row["observation"]), None, None if row["previous_action"] is None else np.array(row["previous_action"]))
    for critique in learned.review(step, np.array(row["action"])):
        assert 0.0 <= critique.confidence <= 1.0 and critique.method == "learned" and "confidence" in critique.reason
    assert records is not None


@pytest.fixture(scope="module")
def anchored_loop(setup, tmp_path_factory):
    """Two rounds of anchored fine-tuning with the rules critic: ``(derivation, loop folder)``."""
    host, constitution, student, _ = setup
    critic = host.registry("critics").get("rules")(constitution=constitution)
    folder = tmp_path_factory.mktemp("anchored") / "loop"
    _, derivation = constitutional_training(
        REACH, student.copy(), critic, constitution, folder, rounds=2, episodes_per_round=2, seed=0,
        sampler=sampler_for(REACH), max_steps=40, epochs=30, lr=3e-3, targets="anchor")
    return derivation, folder


def test_anchored_fine_tuning_teaches_the_critics_revision_of_the_frozen_students_action(setup, anchored_loop):
    _, constitution, student, _ = setup
    before = student.copy()
    derivation, loop = anchored_loop
    assert "targets=anchor" in derivation.dataset and derivation.parent == student.info["id"]
    last = Records.read(loop / "round-1", constitution)
    observations, anchor = last.matrix("observation"), last.matrix("anchor_action")
    assert np.allclose(anchor, np.asarray(before(observations)), atol=1e-5)  # the frozen student, not the tuned one
    assert not np.allclose(last.matrix("action"), anchor, atol=1e-3)  # round 1 was driven by the tuned student
    X, Y = revision_targets(last, targets="anchor", violation_weight=1)
    assert np.array_equal(Y, last.matrix("anchor_revised")) and len(X) == last.table.num_rows
    assert np.abs(Y).max() <= (0.3 - 0.1) / 1.5 + 1e-6  # the strict limit less its slack: every step is taught inside it
    without = last.table.drop_columns(["anchor_revised"]).append_column(
        "anchor_revised", pa.nulls(last.table.num_rows, pa.list_(pa.float32())))
    with pytest.raises(DataError, match="anchor"):
        revision_targets(Records(without, last.episodes, constitution), targets="anchor")


def test_a_learned_critic_also_learns_from_the_anchors_actions_it_did_not_take(setup, anchored_loop):
    _, constitution, _, _ = setup
    loop = anchored_loop[1]
    last = Records.read(loop / "round-1", constitution)
    anchor, z = last.matrix("anchor_action"), last.matrix("observation")[:, 16]
    too_fast = (z < 0.6) & (np.abs(anchor).max(axis=1) * 1.5 > 0.3 + 1e-6)  # the strict slow-near-table, by hand
    assert too_fast.any()
    assert [("slow-near-table" in names) for names in last.column("anchor_principles")] == too_fast.tolist()
    other = ~np.all(anchor == last.matrix("action"), axis=1)
    X, Y = critic_dataset(last)
    X0, _ = critic_dataset(last, counterfactual=False)
    assert len(X0) == last.table.num_rows and len(X) == len(X0) + other.sum()
    extra = slice(len(X0), None)
    j = constitution.ids.index("slow-near-table")
    assert np.array_equal(Y[extra, j] == 1.0, too_fast[other])  # the anchor's own verdicts
    assert np.allclose(X[extra, 32: 32 + 7], anchor[other])  # features hold the anchor's action
    taught = last.matrix("anchor_revised")
    assert np.allclose(Y[extra, 3:], taught[other] - anchor[other])  # the critic's target of it
    assert np.allclose(Y[: len(X0)][~other, 3:], taught[~other] - anchor[~other])  # where the anchor drove, its target
    first = Records.read(loop / "round-0", constitution)
    older = Records(first.table.drop_columns(["anchor_principles"]), first.episodes, constitution)  # records from before
    both = Records.concat([older, last])
    assert both.table.column("anchor_principles").null_count == first.table.num_rows
    assert len(critic_dataset(both)[0]) == first.table.num_rows + len(X)


def test_fine_tuning_on_standardized_inputs_keeps_a_student_that_reads_raw_observations(setup, tmp_path):
    host, constitution, student, _ = setup
    critic = host.registry("critics").get("rules")(constitution=constitution)
    constitutional_training(REACH, student.copy(), critic, constitution, tmp_path / "loop", rounds=1, episodes_per_round=2,
                            seed=0, sampler=sampler_for(REACH), max_steps=40, epochs=1, targets="anchor")
    records = Records.read(tmp_path / "loop" / "round-0", constitution)
    X, Y = revision_targets(records, targets="anchor", violation_weight=1)
    folded = student.copy()
    finetune(folded, records, epochs=0, targets="anchor", standardize=True)
    assert np.allclose(folded(X), student(X), atol=1e-5)  # folding the standardization in and out changes nothing
    tuned = student.copy()
    finetune(tuned, records, epochs=20, lr=3e-3, targets="anchor", standardize=True)
    error = lambda model: float(np.mean((np.asarray(model(X)) - Y) ** 2))
    assert error(tuned) < 0.5 * error(student)  # learned on raw observations, as every caller feeds them
    plain = student.copy()
    finetune(plain, records, epochs=20, lr=3e-3, targets="anchor")
    assert not np.allclose(plain.theta, tuned.theta, atol=1e-4)  # the option took effect: another path in θ


def test_learned_critic_thresholds_come_from_validation_and_conditions_from_the_scenario(setup, tmp_path):
    host, constitution, student, _ = setup
    rules = host.registry("critics").get("rules")(constitution=constitution)
    plans = EpisodePlanner(sampler_for(REACH)).plans(3, 4)
    records = critique_episodes(REACH, student, rules, constitution, plans[:3], tmp_path / "train", max_steps=40)
    validation = critique_episodes(REACH, student, rules, constitution, plans[3:], tmp_path / "val", max_steps=40)
    conditions = ("light", "no-such-sensor")  # a scenario key the world lacks reads as 0
    X, _ = critic_dataset(records, conditions)
    light = {e["episode_index"]: e["scenario"]["light"] for e in records.episodes}
    assert X.shape[1] == 2 * 32 + 2 * 7 + 2 and np.all(X[:, -1] == 0.0)
    assert np.allclose(X[:, -2], [light[i] for i in records.column("episode_index")])
    first = np.flatnonzero(np.array(records.column("frame_index")) == 0)
    assert np.all(X[first, 32 + 14: 2 * 32 + 14] == 0.0)  # no change of the observation before the first step
    model = host.registry("model_types").get("mlp").build((X.shape[1],), len(constitution.ids) + 7, hidden=(32,), seed=0)
    train_critic_model(model, records, conditions=conditions, epochs=20, seed=0)
    thresholds = choose_thresholds(model, validation, conditions)
    assert len(thresholds) == 3 and all(0.0 < t < 1.0 for t in thresholds)
    path = tmp_path / "critic.safetensors"
    save_derived(model, path, Derivation("critic"), metadata={"principles": constitution.ids, "thresholds": thresholds,
                                                              "conditions": list(conditions)})
    learned = host.registry("critics").get("learned")(constitution=constitution, model=str(path))
    assert list(learned.thresholds) == thresholds and learned.conditions == conditions and learned.history
    assert 0.0 <= agreement(learned, validation)["f1"] <= 1.0
    present, _ = critic_dataset(records, conditions, history=False)  # no previous action, no change
    assert np.array_equal(present, np.concatenate([X[:, : 32 + 7], X[:, -2:]], axis=1))
    model = host.registry("model_types").get("mlp").build((present.shape[1],), len(constitution.ids) + 7, hidden=(32,), seed=0)
    train_critic_model(model, records, conditions=conditions, history=False, epochs=20, seed=0)
    save_derived(model, path, Derivation("critic"), metadata={"principles": constitution.ids, "conditions": list(conditions),
                                                              "history": False})
    learned = host.registry("critics").get("learned")(constitution=constitution, model=str(path))
    assert not learned.history and 0.0 <= agreement(learned, validation)["f1"] <= 1.0  # reads 41 inputs, as trained


def test_the_rounds_can_be_driven_by_the_student_behind_a_low_pass(setup, tmp_path):
    from tutelage.errors import SpecError
    from tutelage.rollouts.lowpass import LowPassPolicy

    host, constitution, student, _ = setup
    critic = host.registry("critics").get("rules")(constitution=constitution)
    constitutional_training(REACH, student.copy(), critic, constitution, tmp_path / "loop", rounds=1, episodes_per_round=2,
                            seed=0, sampler=sampler_for(REACH), max_steps=20, epochs=1, targets="anchor",
                            drive_with=lambda model: LowPassPolicy(model, 0.6))
    records = Records.read(tmp_path / "loop" / "round-0", constitution)
    episodes, taken = np.array(records.column("episode_index")), records.matrix("action")
    raw = records.matrix("anchor_action")  # in round 0 the student is still its anchor: raw = what it proposed
    for episode in np.unique(episodes):
        expected, last = [], None
        for action in raw[episodes == episode].astype(np.float64):
            last = action if last is None else 0.6 * last + 0.4 * action
            expected.append(last)
        assert np.allclose(taken[episodes == episode], expected, atol=1e-6)
    assert not np.allclose(taken, raw, atol=1e-3)  # the filter drove
    with pytest.raises(SpecError, match="drive_with"):
        constitutional_training(REACH, student.copy(), critic, constitution, tmp_path / "own", targets="own",
                                drive_with=lambda model: model)
