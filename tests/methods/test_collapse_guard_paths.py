"""The guard's helpers for training paths: label provenance of teachers and models, plain files, CLI flags,
and registries from before depth was recorded."""
from __future__ import annotations

import argparse
import sqlite3

import numpy as np
import pytest

from tutelage import nn
from tutelage.data.provenance import synthetic_depth
from tutelage.errors import SpecError
from tutelage.methods.collapse_guard import (CollapseGuard, CollapseRefused, add_guard_arguments, guard_of, guard_path,
                                             guard_policy, policy_provenance)
from tutelage.runs.registry import Lineage


def saved_model(tmp_path, lineage):
    model = nn.Sequential([nn.Dense(4), nn.Tanh(), nn.Dense(2)], input_shape=(3,), seed=0)
    nn.save(model, tmp_path / "m.safetensors", lineage=lineage)
    return nn.load(tmp_path / "m.safetensors")


def test_policy_provenance_of_a_teacher_and_of_models(tmp_path):
    assert policy_provenance(object()) == {"synthetic_share": 0.0, "synthetic_depth": 0}
    assert policy_provenance(saved_model(tmp_path, {"method": "bc", "data_depth": 2})) == {
        "synthetic_share": 1.0, "synthetic_depth": 3}
    assert policy_provenance(saved_model(tmp_path, {"method": "bc"}))["synthetic_depth"] == 1  # depth not recorded


def test_dataset_depth_from_the_generating_policy():
    assert synthetic_depth({"synthetic": False, "lineage": {"data_depth": 5}}) == 0
    assert synthetic_depth({"synthetic": True, "lineage": {"data_depth": 2}}) == 3
    assert synthetic_depth({"synthetic": True, "lineage": {}}) == 1


def test_plain_files_count_as_ground_truth_and_policies_refuse(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.zeros((2, 3)), y=np.zeros(2))
    verdict, depth = guard_path(CollapseGuard(action="refuse"), tmp_path / "d.npz")
    assert (verdict.status, depth) == ("ok", 0)
    with pytest.raises(CollapseRefused, match="samples of policy p has synthetic share 100% at depth 1"):
        guard_policy({"action": "refuse"}, saved_model(tmp_path, {"method": "bc", "data_depth": 0}), "samples of policy p")


def test_cli_flags_make_the_guard_and_bad_values_name_the_flag():
    parser = argparse.ArgumentParser()
    add_guard_arguments(parser)
    assert guard_of(parser.parse_args([])) == CollapseGuard(0.1, 3, "warn")
    assert guard_of(parser.parse_args(["--collapse-guard", "refuse", "--max-depth", "1"])) == CollapseGuard(0.1, 1, "refuse")
    with pytest.raises(SpecError, match="--min-real-fraction"):
        guard_of(parser.parse_args(["--min-real-fraction", "1.5"]))
    with pytest.raises(SpecError, match="--max-depth"):
        guard_of(parser.parse_args(["--max-depth", "-1"]))


def test_an_older_registry_gains_the_provenance_columns(tmp_path):
    path = tmp_path / "lineage.db"
    with sqlite3.connect(path) as db:  # the schema before depth was recorded
        db.execute("CREATE TABLE models (id TEXT NOT NULL, run_id TEXT NOT NULL DEFAULT '', path TEXT NOT NULL, "
                   "model_type TEXT, method TEXT, parent TEXT, dataset TEXT, teacher TEXT, n_params INTEGER, "
                   "size_bytes INTEGER, metrics TEXT, created REAL NOT NULL, PRIMARY KEY (id, run_id))")
    lineage = Lineage(path)
    lineage.add_model("m1", run_id="", path="m1.safetensors", model_type="mlp", method="bc", data_depth=2,
                      collapse_guard={"status": "warn", "message": "deep"})
    row = lineage.model("m1")
    assert row["data_depth"] == 2 and row["collapse_guard"] == {"status": "warn", "message": "deep"}


def test_kd_guard_checks_the_teachers_soft_labels_not_only_the_data(tmp_path):
    """Real data labelled by a depth-2 model teacher is depth 3 and fully synthetic; by a scripted teacher, ground
    truth; offline logits carry the depth recorded with them."""
    from tutelage.methods.collapse_guard import soft_label_provenance

    real = {"synthetic_share": 0.0, "synthetic_depth": 0}
    teacher = saved_model(tmp_path, {"method": "bc", "data_depth": 2})
    labelled = soft_label_provenance(real, teacher)
    assert labelled == {"synthetic_share": 1.0, "synthetic_depth": 3, "teacher_depth": 3}
    verdict = CollapseGuard(max_depth=2, action="refuse").check(labelled, name="real data")
    assert verdict.status == "refuse" and verdict.details["teacher_depth"] == 3
    assert "synthetic share 100% at depth 3" in verdict.message
    assert CollapseGuard().check(real).status == "ok"  # the dataset alone passes
    assert soft_label_provenance(real, object())["synthetic_depth"] == 0
    deep_data = {"synthetic_share": 0.5, "synthetic_depth": 4}
    assert soft_label_provenance(deep_data, teacher)["synthetic_depth"] == 4
    offline = {**real, "teacher_outputs": {"teacher.logits": {"teacher": "abc", "synthetic_depth": 2}}}
    assert soft_label_provenance(offline) == {"synthetic_share": 1.0, "synthetic_depth": 2, "teacher_depth": 2}
    assert soft_label_provenance(real)["synthetic_depth"] == 1  # logits whose depth was not recorded
    np.savez(tmp_path / "d.npz", X=np.zeros((2, 3)), y=np.zeros(2))
    assert soft_label_provenance(tmp_path / "d.npz", teacher)["synthetic_depth"] == 3
