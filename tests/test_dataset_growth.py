"""A dataset grows with --episodes to the bytes of a fresh run, and resumes under another spelling of its teacher."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import tutelage.worlds  # noqa: F401  (registers the worlds)
from tutelage.cli import main
from tutelage.data import read_info

WORLD = "tutelage/Reach-v0"


def generate(out: Path, episodes: int, policy: str = "expert") -> int:
    return main(["generate", WORLD, "--policy", policy, "--episodes", str(episodes), "--episodes-per-shard", "2",
                 "--max-steps", "15", "--out", str(out), "--registry", str(out.parent / "lineage.db"), "--quiet"])


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}


def test_growing_a_dataset_gives_the_bytes_of_a_fresh_run(tmp_path):
    assert generate(tmp_path / "grown", 3) == 0  # shard 1 holds one episode: it is written again with two
    first = files(tmp_path / "grown")
    assert generate(tmp_path / "grown", 6, policy="reach-expert") == 0  # the same teacher, spelled by name
    assert generate(tmp_path / "fresh", 6) == 0
    grown, fresh = files(tmp_path / "grown"), files(tmp_path / "fresh")
    assert grown == fresh and len(grown) == 6  # frames and episodes files of three shards
    assert grown["data/chunk-000/file-000.parquet"] == first["data/chunk-000/file-000.parquet"]
    grown_info, fresh_info = read_info(tmp_path / "grown"), read_info(tmp_path / "fresh")
    assert grown_info["id"] == fresh_info["id"] and grown_info["total_episodes"] == 6 and grown_info["complete"]


def test_shrinking_or_changing_a_dataset_is_refused(tmp_path, capsys):
    assert generate(tmp_path / "d", 4) == 0
    capsys.readouterr()
    assert generate(tmp_path / "d", 2) == 2
    assert "episodes: dataset has 4, asked for 2" in capsys.readouterr().err
    assert main(["generate", WORLD, "--policy", "random", "--episodes", "4", "--episodes-per-shard", "2",
                 "--max-steps", "15", "--out", str(tmp_path / "d"), "--quiet"]) == 2
    assert "policy" in capsys.readouterr().err


def test_generate_enters_the_dataset_in_the_registry(tmp_path, capsys):
    assert generate(tmp_path / "d", 2) == 0
    from tutelage.runs.registry import Lineage

    (entry,) = Lineage(tmp_path / "lineage.db").datasets()
    assert entry["id"] == read_info(tmp_path / "d")["id"] and entry["policy"] == "reach-expert"
    assert entry["episodes"] == 2 and Path(entry["path"]) == (tmp_path / "d").resolve()


@pytest.fixture
def registry(tmp_path, monkeypatch):
    path = tmp_path / "registry" / "lineage.db"
    monkeypatch.setenv("TUTELAGE_REGISTRY", str(path))
    monkeypatch.chdir(tmp_path)
    return path


def test_every_command_that_writes_a_model_registers_it(registry, capsys):
    assert main(["examples", "digits", "--out", "ex", "--epochs", "1", "--quiet"]) == 0
    assert main(["train", "mlp", "ex/digits.npz", "--out", "mine.safetensors", "--epochs", "1", "--hidden", "32",
                 "--quiet"]) == 0
    assert main(["distill", "--method", "kd", "--teacher", "ex/teacher.safetensors", "--data", "ex/digits.npz",
                 "--hidden", "8", "--epochs", "1", "--out", "small.safetensors", "--quiet"]) == 0
    assert main(["quantize", "small.safetensors"]) == 0
    capsys.readouterr()
    assert main(["models", "--json"]) == 0
    models = {Path(m["path"]).name: m for m in json.loads(capsys.readouterr().out)["models"]}
    assert set(models) == {"teacher.safetensors", "mine.safetensors", "small.safetensors", "small.int8.safetensors"}
    assert models["small.safetensors"]["parent"] == models["teacher.safetensors"]["id"]
    assert models["small.int8.safetensors"]["parent"] == models["small.safetensors"]["id"]
    for ref in ("small.int8", "small.int8.safetensors", models["small.int8.safetensors"]["id"][:6]):
        assert main(["show", ref, "--json"]) == 0, ref
        card = json.loads(capsys.readouterr().out)
        assert card["id"] == models["small.int8.safetensors"]["id"] and card["model_type"] == "mlp-int8", ref
    assert main(["models", "small", "--json"]) == 0  # a model and its descendants
    assert {Path(m["path"]).name for m in json.loads(capsys.readouterr().out)["models"]} == {
        "small.safetensors", "small.int8.safetensors"}


def test_a_shard_trains_with_columns_chosen_by_name(tmp_path, capsys):
    assert generate(tmp_path / "d", 2) == 0
    shard = tmp_path / "d" / "data" / "chunk-000" / "file-000.parquet"
    out = tmp_path / "m.safetensors"
    common = ["--out", str(out), "--epochs", "1", "--registry", str(tmp_path / "lineage.db"), "--quiet"]
    assert main(["train", "mlp", str(shard), *common]) == 0  # observation.* → action by default
    assert main(["train", "mlp", str(shard), "--target", "actoin", *common]) == 2
    assert "did you mean 'action'" in capsys.readouterr().err
    assert main(["train", "mlp", str(shard), "--features", "scenario.world", *common]) == 2
    assert "column 'scenario.world' is not numeric" in capsys.readouterr().err
