"""Run specs: every float finite, counts bounded, model options checked by their type, files read safely.

Each bad spec exits 2 with one line naming the file and the key, and nothing is written.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from tutelage.cli import main

SPEC = (Path(__file__).parents[1] / "fuzz" / "spec.toml").read_text()


def refused(tmp_path, capsys, spec_path, *names) -> str:
    out = tmp_path / "runs"
    assert main(["run", str(spec_path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert str(spec_path) in err and all(name in err for name in names), err
    assert not out.exists(), "a refused spec must write nothing (no run folder, no registry)"
    return err


def write(tmp_path, text: str, name: str = "hard.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("old, new, key", [
    ("lr = 0.001", "lr = nan", "hard.toml.stages[1].lr: must be a finite number, got nan"),
    ("lr = 0.001", "lr = inf", "stages[1].lr: must be a finite number, got inf"),
    ("edge_case_fraction = 0.2", "edge_case_fraction = nan", "scenarios.edge_case_fraction"),
    ("episodes = 2\n", "episodes = 9223372036854775807\n", "stages[0] (demos).episodes: must be <= 1000000"),
    ("seed = 1", "seed = 1099511627776", "hard.toml.seed: must be <= 4294967295"),
    ("hidden = [8]", 'hidden = "big"', "stages[1] (student).student.options: 'hidden' must be positive integers"),
    ("hidden = [8]", "hidden = [1000000000]", "student.options: 'hidden'"),
    ("hidden = [8]", 'hidden = [8], activation = "relux"', "student.options: unknown activation 'relux'"),
    ("hidden = [8]", "hidden = [8], dropout = 1.5", "student.options: 'dropout' must be a number in [0.0, 0.99]"),
])
def test_bad_values_name_file_and_key(tmp_path, capsys, old, new, key):
    assert old in SPEC
    refused(tmp_path, capsys, write(tmp_path, SPEC.replace(old, new, 1)), key)


def test_evaluate_names_are_checked_against_the_scenarios(tmp_path, capsys):
    refused(tmp_path, capsys, write(tmp_path, SPEC + 'gif_edge_case = "black-ice"\n'),
            "stages[3] (eval).gif_edge_case: unknown edge case")
    refused(tmp_path, capsys, write(tmp_path, SPEC + 'scenario_type = { parameter = "gravity", edges = [0.5], '
                                               'labels = ["low", "high"] }\n'),
            "stages[3] (eval).scenario_type.parameter: unknown scenario parameter")


def test_ray_backend_without_ray_is_refused_at_validation(tmp_path, capsys, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else find_spec(name, *a))
    text = SPEC.replace('backend = "process"', 'backend = "ray"', 1)
    refused(tmp_path, capsys, write(tmp_path, text), "stages[0] (demos).backend", "pip install 'tutelage[ray]'")


@pytest.mark.parametrize("content, message", [
    (bytes(range(256)), "not UTF-8 text"),
    (SPEC.encode("utf-16"), "not UTF-8 text"),
    (("a = " + "[" * 50_000 + "]" * 50_000).encode(), "nested deeper than 16"),
    (("a = " + "[" * 30 + "]" * 30).encode(), "hard.toml.a[0][0]"),
    (b"", "missing required key 'name'"),
])
def test_unreadable_spec_files_are_one_clear_error(tmp_path, capsys, content, message):
    path = tmp_path / "hard.toml"
    path.write_bytes(content)
    refused(tmp_path, capsys, path, message)


def test_links_and_directories(tmp_path, capsys):
    loop = tmp_path / "loop.toml"
    os.symlink(loop.name, loop)
    refused(tmp_path, capsys, loop, "too many levels of symbolic links")
    folder = tmp_path / "dir.toml"
    folder.mkdir()
    refused(tmp_path, capsys, folder, "is a directory")


def test_markup_in_messages_is_printed_as_text(tmp_path, capsys):
    """``[[stages]]`` used to print as ``[]``; a key like ``[/x]`` crashed the printer."""
    refused(tmp_path, capsys, write(tmp_path, 'name = "a"\nworld = "tutelage/Driving-v0"\nstages = []\n'),
            "a run needs at least one [[stages]] table")
    refused(tmp_path, capsys, write(tmp_path, SPEC + '"[/x]" = 1\n'), "unknown key '[/x]'")
