"""``tutelage sims``: each spec listed once (a copy in ./sims is the packaged spec), ``--show`` prints one to copy."""
from __future__ import annotations

import json
import tomllib

from tutelage.cli import main
from tutelage.runs.spec import packaged_specs


def listed(capsys) -> list[dict]:
    assert main(["sims", "--json"]) == 0
    return json.loads(capsys.readouterr().out)["sims"]


def test_a_copy_of_a_packaged_spec_is_listed_once(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sims").mkdir()
    text = packaged_specs()["reach"].read_text(encoding="utf-8")
    (tmp_path / "sims" / "reach.toml").write_text(text, encoding="utf-8")  # as an installed wheel sees a checkout
    assert [s["name"] for s in listed(capsys)] == ["constitution", "driving", "reach"]
    (tmp_path / "sims" / "reach.toml").write_text(text.replace("name = ", "name = 'mine' #", 1), encoding="utf-8")
    assert [s["source"] for s in listed(capsys)] == ["constitution (packaged)", "driving (packaged)", "reach (packaged)",
                                                     "sims/reach.toml"]


def test_show_prints_the_spec_and_its_path(capsys):
    assert main(["sims", "--show", "driving"]) == 0
    out = capsys.readouterr().out
    first, _, rest = out.partition("\n")
    assert first == f"# {packaged_specs()['driving']}"
    assert tomllib.loads(out) == tomllib.loads(packaged_specs()["driving"].read_text(encoding="utf-8"))


def test_show_unknown_name_suggests(capsys):
    assert main(["sims", "--show", "rech"]) == 2
    assert "did you mean 'reach'" in capsys.readouterr().err
