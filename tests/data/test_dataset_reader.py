"""The dataset reader: episodes, batches and whole columns match what plain pyarrow/pandas read."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset
import pytest
from PIL import Image

from tutelage.data import Dataset, decode_png
from tutelage.errors import DataError
from tutelage.rollouts.generate import generate

WORLD = "Pendulum-v1"


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reader") / "ds"
    generate(WORLD, "random", 7, out, episodes_per_shard=3, max_steps=25, seed=1)
    return out


def test_columns_follow_the_layout(root):
    ds = Dataset(root)
    assert ds.columns[:4] == ["episode_index", "frame_index", "index", "timestamp"]
    assert {"observation.state", "action", "reward", "terminated", "truncated"} <= set(ds.columns)
    assert sorted(p.relative_to(root).as_posix() for p in (root / "data").rglob("*.parquet")) == [
        f"data/chunk-000/file-00{i}.parquet" for i in range(3)]
    arrays = ds.to_arrays()
    assert np.array_equal(arrays["index"], np.arange(len(ds)))
    assert arrays["observation.state"].shape == (7 * 25, 3) and arrays["observation.state"].dtype == np.float32
    assert np.allclose(arrays["timestamp"], arrays["frame_index"] / ds.info["fps"])
    assert arrays["truncated"].sum() == 7 and not arrays["terminated"].any()


def test_episodes_batches_and_arrays_agree(root):
    ds = Dataset(root)
    whole = ds.to_arrays(["episode_index", "observation.state", "action"])
    episodes = list(ds.episodes(["observation.state", "action"]))
    assert len(episodes) == ds.num_episodes == 7
    assert np.array_equal(np.concatenate([e["observation.state"] for e in episodes]), whole["observation.state"])
    fifth = ds.episode(5)
    assert np.array_equal(fifth["observation.state"], episodes[5]["observation.state"])
    assert np.array_equal(fifth["frame_index"], np.arange(25)) and set(fifth["episode_index"]) == {5}
    batches = list(ds.batches(40, ["action"]))
    assert [len(b["action"]) for b in batches] == [40, 40, 40, 40, 15]
    assert np.array_equal(np.concatenate([b["action"] for b in batches]), whole["action"])
    shuffled = np.concatenate([b["action"] for b in ds.batches(40, ["action"], shuffle=True, seed=2)])
    assert not np.array_equal(shuffled, whole["action"])
    assert np.array_equal(np.sort(shuffled, axis=0), np.sort(whole["action"], axis=0))


def test_plain_pyarrow_and_pandas_read_the_same_frames(root):
    ds = Dataset(root)
    table = pyarrow.dataset.dataset(root / "data", format="parquet").to_table()
    assert table.num_rows == len(ds) and table.schema.names == ds.columns
    frame = pd.read_parquet(root / "data")
    assert np.allclose(np.stack(frame["observation.state"].to_numpy()), ds.to_arrays(["observation.state"])["observation.state"])
    meta = pd.read_parquet(root / "meta" / "episodes")
    assert list(meta["length"]) == [25] * 7
    assert list(meta["dataset_from_index"]) == list(range(0, 175, 25))


def test_reader_errors_name_the_problem(root, tmp_path):
    with pytest.raises(DataError, match="no meta/info.json"):
        Dataset(tmp_path)
    with pytest.raises(DataError, match="no column 'observation.lidar'"):
        Dataset(root).to_arrays(["observation.lidar"])
    with pytest.raises(DataError, match="no episode 99"):
        Dataset(root).episode(99)


def test_decode_png_round_trip():
    image = np.random.default_rng(0).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    assert np.array_equal(decode_png(buffer.getvalue()), image)
