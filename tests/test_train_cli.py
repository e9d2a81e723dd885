"""``tutelage train``: .npz and Parquet datasets to a safetensors model; bad files exit 2 with one clear line."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tutelage import nn
from tutelage.cli import main


@pytest.fixture()
def npz(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5)).astype(np.float32)
    path = tmp_path / "data.npz"
    np.savez(path, X=X, y=(X[:, 0] > 0).astype(np.int64))
    return path


def test_train_mlp_on_npz(tmp_path, npz, capsys):
    out = tmp_path / "model.safetensors"
    code = main(["train", "mlp", str(npz), "--out", str(out), "--epochs", "5", "--hidden", "16", "--lr", "0.01",
                 "--seed", "3", "--quiet"])
    assert code == 0
    model = nn.load(out)
    assert model.info["model_type"] == "mlp" and model.info["lineage"]["method"] == "supervised"
    assert model.spec["layers"][0] == {"type": "dense", "units": 16} and model.output_size == 2
    assert f"saved mlp model {model.info['id']}" in capsys.readouterr().out


def test_train_regression_from_parquet_with_a_vector_column(tmp_path):
    rng = np.random.default_rng(1)
    obs = rng.standard_normal((100, 3)).astype(np.float32)
    table = pa.table({"speed": rng.standard_normal(100), "obs": list(obs), "action": obs.sum(axis=1)})
    path = tmp_path / "data.parquet"
    pq.write_table(table, path)
    out = tmp_path / "reg.safetensors"
    assert main(["train", "mlp", str(path), "--out", str(out), "--target", "action", "--epochs", "2", "--quiet"]) == 0
    model = nn.load(out)
    assert model.input_shape == (4,) and model.output_size == 1


def test_train_cnn_with_input_shape(tmp_path):
    rng = np.random.default_rng(2)
    path = tmp_path / "img.npz"
    np.savez(path, X=rng.random((40, 36)), y=rng.integers(0, 3, 40))
    out = tmp_path / "cnn.safetensors"
    assert main(["train", "cnn", str(path), "--out", str(out), "--input-shape", "1", "6", "6", "--epochs", "1",
                 "--quiet"]) == 0
    assert nn.load(out).input_shape == (1, 6, 6)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, "no such dataset file"),
        (lambda p: p.write_bytes(b"not a zip"), "not a readable .npz file"),
        (lambda p: np.savez(p, X=np.zeros((3, 2))), "missing array(s) ['y']"),
        (lambda p: np.savez(p, X=np.zeros((3, 2)), y=np.zeros(4)), "'y' have N rows"),
    ],
)
def test_bad_npz_files_exit_2(tmp_path, capsys, make, message):
    path = tmp_path / "bad.npz"
    make(path)
    assert main(["train", "mlp", str(path), "--out", str(tmp_path / "m.safetensors"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "bad.npz" in err and message in err
    assert not (tmp_path / "m.safetensors").exists()


def test_bad_parquet_target_and_unknown_model_type(tmp_path, npz, capsys):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"a": [1.0, 2.0], "b": [0, 1]}), path)
    assert main(["train", "mlp", str(path), "--out", str(tmp_path / "m.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "--target: unknown column of" in err and "'y'" in err and "(available: a, b)" in err
    assert main(["train", "mpl", str(npz), "--out", str(tmp_path / "m.safetensors")]) == 2
    assert "did you mean 'mlp'" in capsys.readouterr().err
