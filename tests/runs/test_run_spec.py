"""A bad spec gets one clear error naming the file, the key and the closest valid name; exit 2; nothing written."""
from __future__ import annotations

from pathlib import Path

import pytest

from tutelage.errors import UserError
from tutelage.plugins import get_host
from tutelage.runs.spec import load_spec

from runs_helpers import PLUGIN, TINY, cli

BAD_SPECS = [
    # (replacement in tiny.toml, words the error must contain)
    (('seed = 7', 'sede = 7'), ["tiny.toml", "unknown key 'sede'", "did you mean 'seed'"]),
    (('seed = 7', 'seed = "7"'), ["tiny.toml.seed", "expected an integer", "'7'"]),
    (('world = "test/Line-v0"', 'world = "test/Lin-v0"'), ["tiny.toml.world", "unknown world 'test/Lin-v0'", "did you mean 'test/Line-v0'"]),
    (('type = "shrink"', 'type = "shrnk"'), ["stages[2] (int8).type", "unknown stage type 'shrnk'", "did you mean 'shrink'"]),
    (('epochs = 30', 'epohcs = 30'), ["stages[1] (student)", "unknown key 'epohcs'", "did you mean 'epochs'"]),
    (('epochs = 30', 'epochs = 3.5'), ["stages[1] (student).epochs", "expected an integer"]),
    (('epochs = 30', 'epochs = 0'), ["stages[1] (student).epochs", "must be >= 1"]),
    (('model = "student"', 'model = "studnt"'), ["stages[2] (int8).model", "'studnt'", "did you mean 'student'"]),
    (('name = "int8"', 'name = "student"'), ["stages[2].name", "'student' is used twice"]),
    (('[quick.data]', '[quick.dta]'), ["tiny.toml.quick", "unknown stage 'dta'", "did you mean 'data'"]),
    (('shards = 2', 'shard = 2'), ["tiny.toml.quick.data", "unknown key 'shard'", "did you mean 'shards'"]),
    (('description =', 'plugins = ["stage_plugn"]\ndescription ='), ["plugins[0]", "unknown plugin 'stage_plugn'", "did you mean 'stage_plugin'"]),
    (('seed = 7', 'seed = 7 7'), ["tiny.toml", "not valid TOML"]),
]


@pytest.mark.parametrize("replacement, words", BAD_SPECS, ids=[w[1] for _, w in BAD_SPECS])
def test_bad_spec_is_one_clear_error(tiny_spec, tmp_path, capsys, replacement, words):
    spec = tiny_spec(replacement)
    out = tmp_path / "out"
    with pytest.raises(UserError) as caught:
        load_spec(str(spec), get_host([PLUGIN]))
    message = str(caught.value)
    for word in words:
        assert word in message, message
    assert cli("run", str(spec), "--out", str(out), "--quiet") == 2
    assert message in capsys.readouterr().err.replace("\n", "")
    assert not out.exists(), "nothing may be written for a bad spec"


def test_good_spec_resolves_defaults_and_quick_overrides():
    host = get_host([PLUGIN])
    full = load_spec(str(TINY), host)
    quick = load_spec(str(TINY), host, quick=True)
    assert [s.name for s in full.stages] == ["data", "student", "int8", "eval"]
    assert full.stages[0].settings == {"shards": 4, "rows": 64, "delay": 0.0}
    assert quick.stages[0].settings["shards"] == 2 and quick.quick
    assert full.stages[2].settings == quick.stages[2].settings


def test_unknown_packaged_spec_name_suggests_the_closest(capsys):
    assert cli("run", "drivng", "--quiet") == 2
    err = capsys.readouterr().err
    assert "unknown run spec 'drivng'" in err and "did you mean 'driving'" in err


def test_missing_spec_file_is_a_clear_error(tmp_path, capsys):
    assert cli("run", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "out")) == 2
    assert "run spec file not found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_every_packaged_spec_is_in_the_repository_sims_folder():
    """``tutelage run sims/NAME.toml`` works from a checkout for every packaged spec (and the files it names)."""
    from tutelage.runs.spec import packaged_specs

    sims = Path(__file__).parents[2] / "sims"
    for name, entry in packaged_specs().items():
        assert (sims / f"{name}.toml").read_text(encoding="utf-8") == entry.read_text(encoding="utf-8"), name
    for folder in ("scenarios", "constitutions"):
        assert (sims / folder).is_dir(), folder
