"""The reader validates before it trusts: shards, schema, row counts and the complete flag."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tutelage.cli import main
from tutelage.data import Dataset
from tutelage.errors import DatasetError, UserError
from tutelage.rollouts.generate import generate

WORLD = "Pendulum-v1"
SHARD = "data/chunk-000/file-001.parquet"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("valid") / "ds"
    generate(WORLD, "random", 4, out, episodes_per_shard=2, max_steps=10, seed=1, progress=False)
    return out


@pytest.fixture()
def ds(pristine, tmp_path) -> Path:
    copy = tmp_path / "ds"
    shutil.copytree(pristine, copy)
    return copy


def edit_info(root: Path, **changes) -> None:
    path = root / "meta/info.json"
    info = json.loads(path.read_text())
    info.update(changes)
    path.write_text(json.dumps(info))


def bc(data: Path, out: Path, *extra: str) -> int:
    return main(["distill", "--method", "bc", "--data", str(data), "--out", str(out), "--epochs", "1",
                 "--hidden", "4", "--quiet", *extra])


def test_a_deleted_shard_is_refused_instead_of_training_on_half(ds, tmp_path, capsys):
    (ds / SHARD).unlink()
    assert bc(ds, tmp_path / "m.safetensors") == 2
    err = capsys.readouterr().err
    assert f"dataset {ds}: {SHARD}: file is missing" in err and not (tmp_path / "m.safetensors").exists()


def test_an_incomplete_dataset_needs_allow_incomplete(ds, tmp_path, capsys):
    (ds / SHARD).unlink()
    (ds / "meta/episodes/chunk-000/file-001.parquet").unlink()
    edit_info(ds, complete=False)
    with pytest.raises(DatasetError, match="not complete .*--allow-incomplete"):
        Dataset(ds)
    assert len(Dataset(ds, allow_incomplete=True)) == 20  # the first shard only
    assert bc(ds, tmp_path / "m.safetensors") == 2
    assert "not complete" in capsys.readouterr().err
    assert bc(ds, tmp_path / "m.safetensors", "--allow-incomplete") == 0
    assert main(["train", "mlp", str(ds), "--out", str(tmp_path / "t.safetensors"), "--epochs", "1", "--quiet"]) == 2
    assert main(["train", "mlp", str(ds), "--out", str(tmp_path / "t.safetensors"), "--epochs", "1", "--quiet",
                 "--allow-incomplete"]) == 0


@pytest.mark.parametrize("change, message", [
    (lambda t: t.drop_columns(["reward"]), r"columns differ from meta/info.json \(missing \['reward'\]"),
    (lambda t: t.set_column(t.schema.get_field_index("reward"), "reward", t.column("reward").cast(pa.float64())),
     "column 'reward' is double, meta/info.json declares float32"),
    (lambda t: t.slice(0, t.num_rows - 3), "holds 17 frames, its episodes add up to 20"),
])
def test_a_shard_in_another_schema_or_short_is_refused(ds, change, message):
    pq.write_table(change(pq.read_table(ds / SHARD)), ds / SHARD)
    with pytest.raises(DatasetError, match=f"dataset .*: {SHARD}: {message}"):
        Dataset(ds)


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(p.read_bytes()[:100]), "not readable Parquet"),
    (lambda p: p.write_bytes(b""), "not readable Parquet"),
    (lambda p: (p.unlink(), p.mkdir()), "cannot read: is a directory"),
])
def test_a_truncated_empty_or_odd_shard_is_one_clear_error(ds, damage, message):
    damage(ds / SHARD)
    with pytest.raises(DatasetError, match=f"{SHARD}: {message}"):
        Dataset(ds)


@pytest.mark.parametrize("text, message", [
    ("[]", "must hold a JSON object, got list"),
    ('{"features": {}}', "field 'generation' is missing"),
    (b"\xff\xfe{}", "not UTF-8"),
    ("[" * 50_000 + "]" * 50_000, "nested deeper than 32"),
    ("{", "not valid JSON"),
])
def test_a_broken_info_json_names_the_file(ds, text, message):
    path = ds / "meta/info.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(DatasetError, match=message) as info:
        Dataset(ds)
    assert str(path) in str(info.value)


def test_totals_must_match_the_shards(ds):
    edit_info(ds, total_frames=41)
    with pytest.raises(DatasetError, match="field 'total_frames' is 41, the shards hold 40"):
        Dataset(ds)


def test_page_checksums_catch_a_flipped_value(ds):
    path = ds / SHARD
    pq.write_table(pq.read_table(path), path, compression="none", write_page_checksum=True)
    data = bytearray(path.read_bytes())
    values = pq.read_table(path).column("reward").to_numpy()
    at = bytes(data).find(np.float32(values[5]).tobytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=f"{SHARD}: cannot read: .*CRC"):
        Dataset(ds).to_arrays(["reward"])


@pytest.mark.parametrize("damage", [lambda t: t.drop_columns(["action"]), lambda t: t.slice(0, 12)],
                         ids=["missing column", "lost rows"])
def test_generate_resume_rewrites_a_shard_it_cannot_verify(pristine, ds, damage):
    """Before, a rerun 'resumed' over shards with missing columns or lost rows."""
    pq.write_table(damage(pq.read_table(ds / SHARD)), ds / SHARD)
    edit_info(ds, complete=False)
    result = generate(WORLD, "random", 4, ds, episodes_per_shard=2, max_steps=10, seed=1, progress=False)
    assert result.resumed_shards == 1
    assert pq.read_table(ds / SHARD).equals(pq.read_table(pristine / SHARD))
    assert len(Dataset(ds)) == len(Dataset(pristine))


def test_dataset_error_is_a_user_error():
    assert issubclass(DatasetError, UserError)
