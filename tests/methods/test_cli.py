"""``tutelage distill`` and ``tutelage quantize``: working runs record lineage; bad input exits 2."""
import json

import numpy as np
import pytest

from tutelage import nn
from tutelage.cli import main
from tutelage.methods.lineage import read_lineage
from tutelage.nn.quantize import QuantizedModel


@pytest.fixture
def teacher_file(tmp_path, digits):
    X, y, _, _ = digits
    from tutelage.train import fit

    teacher = nn.Sequential([nn.Dense(48), nn.Tanh(), nn.Dense(10)], input_shape=(64,), seed=3)
    fit(teacher, X, y, loss="cross_entropy", epochs=5, quiet=True)
    path = tmp_path / "teacher.safetensors"
    return path, nn.save(teacher, path, lineage={"method": "supervised", "dataset": "digits"})


@pytest.fixture
def digits_npz(tmp_path, digits):
    X, y, _, _ = digits
    path = tmp_path / "digits.npz"
    np.savez(path, X=X, y=y)
    return path


def run_json(capsys, *argv):
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_kd_then_quantize_record_the_family_tree(tmp_path, capsys, teacher_file, digits_npz):
    teacher_path, teacher_id = teacher_file
    student = tmp_path / "student.safetensors"
    out = run_json(capsys, "distill", "--method", "kd", "--teacher", str(teacher_path), "--data", str(digits_npz),
                   "--out", str(student), "--hidden", "12", "--epochs", "2", "--quiet")
    lineage = read_lineage(student)
    # the targets are the teacher's soft labels: one deeper than the teacher's ground-truth data
    assert {k: lineage.pop(k) for k in ("data_depth", "collapse_guard")}["data_depth"] == 1
    assert lineage == {"parent": teacher_id, "method": "kd", "dataset": "digits.npz", "teacher": teacher_id}
    assert out["n_params"] == 64 * 12 + 12 + 12 * 10 + 10
    out = run_json(capsys, "quantize", str(student))
    int8 = tmp_path / "student.int8.safetensors"
    assert isinstance(nn.load(int8), QuantizedModel) and out["model"] == str(int8)
    assert read_lineage(int8) == {"parent": out["parent"], "method": "int8", "dataset": "digits.npz",
                                  "teacher": teacher_id}
    assert out["parent"] == nn.load(student).info["id"]


def test_bc_from_a_generated_dataset_names_it_in_the_lineage(tmp_path, capsys):
    from tutelage.rollouts.generate import generate

    generate("CartPole-v1", "random", 2, tmp_path / "data", seed=0)
    student = tmp_path / "bc.safetensors"
    run_json(capsys, "distill", "--method", "bc", "--data", str(tmp_path / "data"), "--out", str(student),
             "--hidden", "8", "--epochs", "1", "--quiet")
    lineage = read_lineage(student)
    assert lineage["method"] == "bc" and lineage["dataset"] == json.loads((tmp_path / "data/meta/info.json").read_text())["id"]


def test_dagger_from_the_command_line(tmp_path, capsys):
    student = tmp_path / "dagger.safetensors"
    out = run_json(capsys, "distill", "--method", "dagger", "--world", "tutelage/Driving-v0", "--teacher", "expert",
                   "--out", str(student), "--rounds", "2", "--episodes-per-round", "1", "--max-steps", "20",
                   "--hidden", "8", "--epochs", "1", "--quiet")
    lineage = read_lineage(student)
    assert lineage.pop("data_depth") == 0 and lineage.pop("collapse_guard")["status"] == "ok"
    assert lineage == {"parent": None, "method": "dagger", "teacher": "driving-expert",
                       "dataset": "dagger:tutelage/Driving-v0:seed=0:2x1"}
    assert out["samples"] == 40


@pytest.mark.parametrize(("argv", "message"), [
    (["distill", "--method", "kd", "--out", "s.safetensors"], "--data"),
    (["distill", "--method", "dagger", "--teacher", "expert", "--out", "s.safetensors"], "--world"),
    (["distill", "--method", "dagger", "--world", "tutelage/Drivng-v0", "--teacher", "expert", "--out", "s.safetensors"],
     "did you mean 'tutelage/Driving-v0'"),
    (["distill", "--method", "dagger", "--world", "tutelage/Driving-v0", "--teacher", "drivng-expert",
      "--out", "s.safetensors"], "did you mean 'driving-expert'"),
    (["distill", "--method", "bc", "--data", "missing.npz", "--out", "s.safetensors"], "missing.npz"),
    (["distill", "--method", "kd", "--data", "DIGITS", "--teacher", "nowhere.safetensors", "--out", "s.safetensors"],
     "nowhere.safetensors"),
    (["distill", "--method", "kd", "--data", "DIGITS", "--teacher", "TEACHER", "--alpha", "2", "--out", "s.safetensors"],
     "--alpha"),
    (["quantize", "nowhere.safetensors"], "nowhere.safetensors"),
    (["quantize", "TEACHER", "--out", "TEACHER"], "overwrite"),
])
def test_bad_input_exits_2_with_one_clear_message(tmp_path, capsys, monkeypatch, teacher_file, digits_npz, argv, message):
    monkeypatch.chdir(tmp_path)
    argv = [{"DIGITS": str(digits_npz), "TEACHER": str(teacher_file[0])}.get(a, a) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in " ".join(err.split()) and "Traceback" not in err
    assert not (tmp_path / "s.safetensors").exists()


def test_quantizing_an_int8_model_again_is_refused(tmp_path, capsys, teacher_file):
    assert main(["quantize", str(teacher_file[0]), "--out", str(tmp_path / "q.safetensors")]) == 0
    assert main(["quantize", str(tmp_path / "q.safetensors"), "--out", str(tmp_path / "qq.safetensors")]) == 2
    assert "already an int8 model" in capsys.readouterr().err


def test_kd_from_offline_teacher_logits_needs_no_teacher(tmp_path, capsys):
    from tutelage.methods.teacher_outputs import add_teacher_outputs
    from tutelage.rollouts.generate import generate

    generate("CartPole-v1", "random", 2, tmp_path / "data", seed=0)
    teacher = nn.Sequential([nn.Dense(8), nn.Tanh(), nn.Dense(2)], input_shape=(4,), seed=1)
    teacher_id = nn.save(teacher, tmp_path / "teacher.safetensors")
    add_teacher_outputs(tmp_path / "data", nn.load(tmp_path / "teacher.safetensors"))
    student = tmp_path / "kd.safetensors"
    run_json(capsys, "distill", "--method", "kd", "--data", str(tmp_path / "data"), "--out", str(student),
             "--hidden", "4", "--epochs", "1", "--quiet")
    lineage = read_lineage(student)
    assert lineage["teacher"] == lineage["parent"] == teacher_id and lineage["method"] == "kd"
