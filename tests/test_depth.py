"""Synthetic depth: 0 for ground truth, k + 1 for data a model trained on depth-k data generates; carried
through generate → train → generate in real files, and guarded before training."""
from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

from tutelage.cli import main
from tutelage.data import read_info
from tutelage.methods.lineage import read_lineage
from tutelage.rollouts.generate import generate

WORLD = "Pendulum-v1"
SMALL = dict(episodes=3, episodes_per_shard=3, max_steps=30, seed=3)


def distill(data: Path, out: Path, *flags: str) -> int:
    return main(["distill", "--method", "bc", "--data", str(data), "--out", str(out), "--epochs", "2",
                 "--hidden", "8", "--quiet", *flags])


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> dict[str, Path]:
    """ground truth → model 1 → its data → model 2 → its data (every step through the real files)."""
    tmp = tmp_path_factory.mktemp("depth")
    paths = {"data0": tmp / "data0"}
    generate(WORLD, "random", out=paths["data0"], **SMALL)
    for k in (1, 2):
        paths[f"model{k}"] = tmp / f"model{k}.safetensors"
        with pytest.warns(UserWarning, match="collapse guard") if k == 2 else contextlib.nullcontext():
            assert distill(paths[f"data{k - 1}"], paths[f"model{k}"], "--max-depth", "0") == 0
        paths[f"data{k}"] = tmp / f"data{k}"
        generate(WORLD, str(paths[f"model{k}"]), out=paths[f"data{k}"], **SMALL)
    return paths


def test_depth_is_carried_through_generate_train_generate(chain):
    assert [read_info(chain[f"data{k}"])["synthetic_depth"] for k in range(3)] == [0, 1, 2]
    assert [read_info(chain[f"data{k}"])["synthetic_share"] for k in range(3)] == [0.0, 1.0, 1.0]
    assert [read_lineage(chain[f"model{k}"])["data_depth"] for k in (1, 2)] == [0, 1]


def test_warn_records_the_verdict_in_the_lineage(chain):
    ok, warned = (read_lineage(chain[f"model{k}"])["collapse_guard"] for k in (1, 2))
    assert ok["status"] == "ok"
    assert warned["status"] == "warn" and warned["synthetic_depth"] == 1 and warned["synthetic_share"] == 1.0
    assert "synthetic depth 1 exceeds the maximum 0" in warned["message"]


def test_refusing_guard_exits_2_naming_the_dataset_and_its_share(chain, tmp_path, capsys):
    out = tmp_path / "refused.safetensors"
    assert distill(chain["data2"], out, "--collapse-guard", "refuse") == 2
    err = capsys.readouterr().err
    assert str(chain["data2"]) in err and "synthetic share 100%" in err and "depth 2" in err
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert main(["train", "mlp", str(chain["data1"]), "--out", str(out), "--epochs", "1", "--quiet",
                 "--collapse-guard", "refuse"]) == 2
    assert not out.exists()


def test_train_records_depth_and_verdict(chain, tmp_path):
    out = tmp_path / "trained.safetensors"
    with pytest.warns(UserWarning, match="real share 0% is below the minimum 10%"):
        assert main(["train", "mlp", str(chain["data1"]), "--out", str(out), "--epochs", "1", "--quiet"]) == 0
    lineage = read_lineage(out)
    assert lineage["data_depth"] == 1 and lineage["collapse_guard"]["status"] == "warn"


def test_show_prints_the_depth_and_the_verdict(chain, capsys):
    assert main(["show", str(chain["model2"]), "--registry", str(chain["model2"].parent / "none.db"), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["data_depth"] == 1 and card["collapse_guard"]["status"] == "warn"


def test_every_row_carries_its_depth_and_the_info_counts_them(chain):
    from tutelage.data import Dataset

    for k in range(3):
        data = Dataset(chain[f"data{k}"])
        depths = data.synthetic_depths()
        assert depths.shape == (len(data),) and set(depths.tolist()) == {k}
        assert data.table(["synthetic_depth"]).column("synthetic_depth").to_pylist() == depths.tolist()
        assert read_info(chain[f"data{k}"])["synthetic_depth_rows"] == {str(k): len(data)}
        assert data.meta.column("synthetic_depth").to_pylist() == [k] * data.num_episodes


def test_concatenated_datasets_keep_their_rows_depths_and_a_model_on_the_mix_generates_one_deeper(chain, tmp_path):
    """ground truth + depth-1 rows → their share and deepest row from the rows; a model cloned from the mix → depth 2."""
    from tutelage.data import Dataset, concat, row_provenance
    from tutelage.methods.bc import behavior_cloning, observation_columns_of, observation_matrix
    from tutelage.methods.collapse_guard import CollapseGuard
    from tutelage.methods.lineage import save_derived
    from tutelage.plugins import registry

    real, made = Dataset(chain["data0"]), Dataset(chain["data1"])
    columns = observation_columns_of(real)
    mixed = concat([real, made], [*columns, "action"])
    assert mixed["synthetic_depth"].tolist() == [0] * len(real) + [1] * len(made)
    assert len(mixed["action"]) == len(real) + len(made)
    provenance = row_provenance(mixed["synthetic_depth"])
    assert provenance == {"synthetic_share": len(made) / (len(real) + len(made)), "synthetic_depth": 1,
                          "synthetic_depth_rows": {"0": len(real), "1": len(made)}}
    X = observation_matrix(mixed, columns)
    student = registry("model_types").get("mlp").build((X.shape[1],), 1, hidden=(8,), seed=0)
    student, derivation = behavior_cloning(student, (X, mixed["action"]), epochs=1, quiet=True)
    verdict = CollapseGuard(max_depth=3).check(provenance, name="mix")
    assert verdict.status == "ok"
    save_derived(student, tmp_path / "mixed.safetensors", derivation.guarded(verdict, provenance["synthetic_depth"]))
    generate(WORLD, str(tmp_path / "mixed.safetensors"), out=tmp_path / "data-mixed", **SMALL)
    assert set(Dataset(tmp_path / "data-mixed").synthetic_depths().tolist()) == {2}


def test_registry_and_show_list_the_rows_by_depth(chain, tmp_path, capsys):
    from tutelage.runs.registry import Lineage, record_dataset_dir

    registry = tmp_path / "lineage.db"
    record_dataset_dir(chain["data1"], registry)
    (row,) = Lineage(registry).datasets()
    assert row["synthetic_depth"] == 1 and row["synthetic_depth_rows"] == read_info(chain["data1"])["synthetic_depth_rows"]
    from tutelage.cli.show import provenance_rows

    shown = dict(provenance_rows({"dataset_info": row}))
    assert shown["data depth"] == "1" and shown["dataset rows by depth"] == f"depth 1: {row['synthetic_depth_rows']['1']:,}"


def test_kd_refuses_ground_truth_data_labelled_by_a_deep_teacher(chain, tmp_path, capsys):
    out = tmp_path / "kd.safetensors"
    code = main(["distill", "--method", "kd", "--data", str(chain["data0"]), "--teacher", str(chain["model2"]),
                 "--out", str(out), "--epochs", "1", "--hidden", "8", "--quiet", "--collapse-guard", "refuse",
                 "--max-depth", "1"])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert f"soft labels of teacher {chain['model2']}" in err and "synthetic share 100% at depth 2" in err


def test_a_dataset_from_before_rows_carried_depth_reads_it_from_its_episodes(chain, tmp_path):
    """Frames without the column (as written before): model-made episodes take the info's depth, the rest 0."""
    import shutil

    import pyarrow.parquet as pq

    from tutelage.data import Dataset
    from tutelage.fileio import write_json

    old = tmp_path / "old"
    shutil.copytree(chain["data2"], old)
    for path in (old / "data").rglob("*.parquet"):
        pq.write_table(pq.read_table(path).drop(["synthetic_depth"]), path)
    info = read_info(old)
    info["features"].pop("synthetic_depth")
    write_json(old / "meta" / "info.json", info)
    data = Dataset(old)
    assert data.synthetic_depths().tolist() == [2] * len(data)
    assert data.provenance()["synthetic_depth_rows"] == {"2": len(data)}
