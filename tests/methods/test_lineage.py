"""Every derived model file records its parent, method, dataset and teacher."""
import numpy as np
import pytest

from tutelage import nn
from tutelage.methods.bc import behavior_cloning
from tutelage.methods.dagger import dagger
from tutelage.methods.kd import distill
from tutelage.methods.lineage import Derivation, read_lineage, save_derived
from tutelage.methods.teacher_outputs import add_teacher_outputs, teacher_outputs
from tutelage.nn.quantize import quantize


def test_each_method_writes_its_lineage_and_a_loaded_student_is_the_parent_of_its_fine_tune(
        tmp_path, expert, make_student, digits):
    X, y, _, _ = digits
    teacher = make_student(64, 10, hidden=32)
    teacher_id = nn.save(teacher, tmp_path / "teacher.safetensors")
    teacher = nn.load(tmp_path / "teacher.safetensors")

    kd_student, kd = distill(teacher, X, y, make_student(64, 10), epochs=1, dataset="digits")
    kd_id = save_derived(kd_student, tmp_path / "kd.safetensors", kd)
    assert read_lineage(tmp_path / "kd.safetensors") == {"parent": teacher_id, "method": "kd", "dataset": "digits",
                                                         "teacher": teacher_id}
    # fine-tuning a loaded student makes it the parent; the teacher stays named
    loaded = nn.load(tmp_path / "kd.safetensors")
    _, again = distill(teacher, X, y, loaded, epochs=1, dataset="digits")
    assert again.parent == kd_id and again.teacher == teacher_id

    q_id = save_derived(quantize(loaded), tmp_path / "kd.int8.safetensors",
                        Derivation("int8", parent=kd_id, teacher=teacher_id, dataset="digits"))
    assert read_lineage(tmp_path / "kd.int8.safetensors")["parent"] == kd_id and q_id != kd_id

    bc_student, bc = behavior_cloning(make_student(), (np.zeros((8, 4)), np.arange(8) % 2), teacher="someone", epochs=1)
    save_derived(bc_student, tmp_path / "bc.safetensors", bc)
    assert read_lineage(tmp_path / "bc.safetensors") == {"parent": None, "method": "bc", "dataset": "arrays",
                                                         "teacher": "someone"}

    dagger_student, dg = dagger("CartPole-v1", expert, make_student(), rounds=1, episodes_per_round=1, max_steps=10,
                                epochs=1, quiet=True)
    save_derived(dagger_student, tmp_path / "dagger.safetensors", dg)
    assert read_lineage(tmp_path / "dagger.safetensors")["teacher"] == "cartpole_expert"


def test_offline_teacher_outputs_travel_with_the_dataset(tmp_path, make_student):
    from tutelage.rollouts.generate import generate

    root = tmp_path / "data"
    generate("CartPole-v1", "random", 3, root, seed=1)
    teacher = make_student(4, 2, hidden=8, seed=7)
    teacher_id = nn.save(teacher, tmp_path / "teacher.safetensors")
    teacher = nn.load(tmp_path / "teacher.safetensors")
    info = add_teacher_outputs(root, teacher)
    # labels by a model are synthetic: one deeper than the (here unrecorded, so ground-truth) data it learned from
    assert info["teacher_outputs"]["teacher.logits"] == {"teacher": teacher_id, "synthetic_depth": 1}
    X, logits, recorded = teacher_outputs(root)
    assert recorded == teacher_id and logits.shape == (len(X), 2)
    np.testing.assert_allclose(logits, teacher(X), rtol=1e-6)
    # a student distilled offline equals one distilled with the teacher running
    offline, _ = distill(None, X, None, make_student(4, 2), logits=logits, epochs=2)
    online, _ = distill(teacher, X, None, make_student(4, 2), epochs=2)
    np.testing.assert_array_equal(offline.theta, online.theta)


def test_an_incomplete_dataset_cannot_be_labelled(tmp_path, make_student):
    from tutelage.data.layout import info_path
    from tutelage.errors import DataError
    from tutelage.fileio import write_json
    from tutelage.rollouts.generate import generate

    root = tmp_path / "data"
    generate("CartPole-v1", "random", 1, root)
    import json

    info = json.loads(info_path(root).read_text())
    write_json(info_path(root), {**info, "complete": False})
    with pytest.raises(DataError, match="not complete"):
        add_teacher_outputs(root, make_student(4, 2))
