"""The CLI: NaN never saved, the last good θ written beside the intended file, errors and tables as plain text."""
from __future__ import annotations

import numpy as np
import pytest

from tutelage import nn
from tutelage.cli import main
from tutelage.nn.serialize import model_id, write_model_file
from tutelage.runs.registry import Lineage


@pytest.fixture()
def regression(tmp_path):
    X = np.random.default_rng(0).standard_normal((64, 4)).astype(np.float32)
    path = tmp_path / "reg.npz"
    np.savez(path, X=X, y=X[:, :2] * 10)
    return path


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("flag", ["--lr=nan", "--lr=inf", "--validation=nan"])
def test_non_finite_arguments_are_refused_before_training(tmp_path, regression, capsys, flag):
    out = tmp_path / "m.safetensors"
    assert main(["train", "mlp", str(regression), "--out", str(out), "--quiet", flag]) == 2
    assert flag.split("=")[0] in one_line(capsys)
    assert not out.exists()


def test_divergence_writes_the_last_good_theta_and_exits_2(tmp_path, regression, capsys):
    out = tmp_path / "m.safetensors"
    code = main(["train", "mlp", str(regression), "--out", str(out), "--optimizer", "sgd", "--lr", "1e30", "--quiet"])
    assert code == 2
    err = one_line(capsys)
    last_good = tmp_path / "m.safetensors.last-good.safetensors"
    assert f"{out} was not written, the last good θ is in {last_good}" in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == [last_good.name, "reg.npz"]
    model = nn.load(last_good)
    assert np.isfinite(model.theta).all() and model.info["model_type"] == "mlp"


def test_nan_in_the_data_names_the_field(tmp_path, capsys):
    X = np.ones((16, 3), np.float32)
    X[4, 1] = np.nan
    path = tmp_path / "bad.npz"
    np.savez(path, X=X, y=np.zeros(16, np.int64))
    assert main(["train", "mlp", str(path), "--out", str(tmp_path / "m.safetensors"), "--quiet"]) == 2
    assert f"{path}: field 'X' holds 1 NaN or infinite values" in one_line(capsys)


def test_quantizing_a_nan_model_is_refused(tmp_path, capsys):
    model = nn.Sequential([nn.Dense(3)], input_shape=(2,))
    model.theta[0] = np.inf
    path = tmp_path / "nan.safetensors"
    write_model_file(path, {"0.dense.weight": model.layers[0].weight, "0.dense.bias": model.layers[0].bias},
                     fmt="tutelage-model-1", ident=model_id(model), spec=model.spec, model_type="mlp", lineage={},
                     metadata={})
    assert main(["quantize", str(path)]) == 2
    assert "holds NaN or infinite values" in one_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nan.safetensors"]


MARKUP = "[bold]m[/bold] [/x] tutelage[ray] [[stages]]"


def test_tables_print_user_text_verbatim(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # wide enough that no cell is folded
    path = tmp_path / "m.safetensors"
    nn.save(nn.Sequential([nn.Dense(2)], input_shape=(2,)), path, model_type=MARKUP,
            lineage={"teacher": MARKUP, "method": "fit"})
    assert main(["show", str(path), "--registry", str(tmp_path / "none.db")]) == 0
    assert capsys.readouterr().out.count(MARKUP) == 2
    registry = tmp_path / "l.db"
    Lineage(registry).add_model("abc", run_id=MARKUP, path=str(path), model_type=MARKUP, method="fit", teacher=MARKUP)
    assert main(["models", "--registry", str(registry)]) == 0
    table = capsys.readouterr().out
    assert "[/x]" in table and "tutelage[ray]" in table and "[[stages]]" in table
    assert main(["models", "--registry", str(registry), "--tree"]) == 0
    assert MARKUP in capsys.readouterr().out


def test_an_error_naming_markup_is_printed_whole(tmp_path, capsys):
    odd = tmp_path / "x[/x]" / f"{MARKUP}.safetensors"
    assert main(["quantize", str(odd)]) == 2
    assert f"{odd}: no such model file" in one_line(capsys)
