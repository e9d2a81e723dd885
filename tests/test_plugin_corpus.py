"""A corpus of broken plugins (tests/plugin_corpus/): each is reported by name, with its distribution when
installed, and ``import tutelage``, ``tutelage plugins`` and the built-ins keep working."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from test_plugins import make_distribution
from tutelage.plugins import PluginHost

CORPUS = Path(__file__).parent / "plugin_corpus"
#: corpus plugin -> what its error must say (each fragment)
EXPECTED = {
    "raises_on_import": ["failed to import", "RuntimeError: corpus: this plugin cannot be imported"],
    "wrong_types": [
        "hook tutelage_model_types must return a mapping of name to model type, got list",
        "teacher 'corpus-teacher' must be a factory (a class or function), got int",
        "critic 'corpus-critic' must be a factory (a class or function), got str",
        "hook tutelage_judges must return a mapping of name to judge, got NoneType",
        "world 'corpus/World-v0' must be a tutelage.protocols.WorldSpec, got str",
        "stage type 'corpus-stage' has no method run()",
    ],
    "missing_methods": ["model type 'corpus-nobuild' has no method build()", "stage type 'corpus-norun' has no method run()"],
    "duplicate_builtin": ["model type 'mlp' is already provided by plugin 'models' (tutelage)"],
    "misspelled_hook": ["implements unknown hook 'tutelage_teacher'; did you mean 'tutelage_teachers'?"],
    "worlds_string": ["hook tutelage_worlds must return a mapping of name to world, got str"],
    "bad_layer_kinds": [
        "layer kind 'corpus-notalayer' must be a subclass of tutelage.nn.Layer, got type",
        "layer kind 'corpus-misnamed' has type 'something-else'; it must equal its name",
        "layer kind 'corpus-nobackward' does not define backward()",
    ],
    "raising_lifecycle": [],  # loads cleanly; its hook raises only when called
}

PROBE = """
import json, warnings
import tutelage, tutelage.worlds, gymnasium
from tutelage.plugins import get_host
host = get_host()
model = host.registry("model_types")["mlp"].build((4,), 2)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    host.notify("tutelage_run_start", run_dir=".", spec={})
env = gymnasium.make("tutelage/Reach-v0")
env.reset(seed=0)
print(json.dumps({"infos": [i.as_dict() for i in host.plugins()], "mlp_owner": host.registry("model_types").owner["mlp"],
                  "warnings": [str(w.message) for w in caught], "worlds": tutelage.worlds.WORLDS}))
"""


def corpus_module(stem: str) -> str:
    return f"corpus_{stem}"


def corpus_dist(stem: str) -> str:
    """The distribution's name (underscores: importlib.metadata reads a name up to the dist-info's first '-')."""
    return f"broken_{stem}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, str]:
    """Every corpus plugin as a real tiny distribution on a path; the environment that sees them."""
    root = tmp_path_factory.mktemp("site")
    for stem in EXPECTED:
        make_distribution(root, corpus_dist(stem), corpus_module(stem), (CORPUS / f"{stem}.py").read_text())
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{root}{os.pathsep}{env.get('PYTHONPATH', '')}"
    env["COLUMNS"] = "240"  # tables wide enough to hold each name on one line
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env)


def test_the_corpus_is_complete():
    assert sorted(p.stem for p in CORPUS.glob("*.py")) == sorted(EXPECTED)


def test_installed_broken_plugins_are_reported_and_the_rest_works(installed):
    result = run(installed, "-c", PROBE)
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    infos = {info["name"]: info for info in probe["infos"]}
    for stem, fragments in EXPECTED.items():
        info = infos[corpus_module(stem)]
        assert info["source"] == "entrypoint" and info["distribution"] == corpus_dist(stem)
        for fragment in fragments:
            assert fragment in (info["error"] or ""), (stem, info["error"])
        if not fragments:
            assert info["error"] is None, info["error"]
    assert "from distribution 'broken_raises_on_import'" in infos["corpus_raises_on_import"]["error"]
    assert all(info["error"] is None for info in probe["infos"] if info["source"] == "builtin")
    assert probe["mlp_owner"] == "models"
    assert probe["worlds"] == ["tutelage/Driving-v0", "tutelage/DrivingCamera-v0", "tutelage/DrivingSensed-v0", "tutelage/DrivingTracked-v0", "tutelage/Push-v0", "tutelage/PushHand-v0", "tutelage/Reach-v0"]
    assert probe["warnings"] == ["plugin 'corpus_raising_lifecycle': tutelage_run_start raised RuntimeError: corpus: tracker offline"]


def test_tutelage_plugins_lists_them(installed):
    listed = run(installed, "-m", "tutelage.cli", "plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    names = {info["name"] for info in json.loads(listed.stdout)["plugins"]}
    assert {corpus_module(stem) for stem in EXPECTED} <= names
    table = run(installed, "-m", "tutelage.cli", "plugins")
    assert table.returncode == 0 and "corpus_wrong_types" in table.stdout


def test_plugins_check_fails_on_the_teacher_without_act(installed):
    checked = run(installed, "-m", "tutelage.cli", "plugins", "--check", "--json")
    assert checked.returncode == 1, checked.stderr
    rows = json.loads(checked.stdout)["checks"]
    failing = [(r["plugin"], r["name"], r["rule"]) for r in rows if r["status"] == "fail"]
    assert failing == [("corpus_missing_methods", "corpus-noact", "act(observation, info)")]
    assert all(r["status"] != "fail" for r in rows if r["plugin"] in ("models", "teachers", "worlds", "stages"))


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_local_broken_plugin_is_reported_by_name(stem):
    host = PluginHost([str(CORPUS / f"{stem}.py")])
    info = host.infos[stem]
    assert info.source == "local"
    for fragment in EXPECTED[stem]:
        assert fragment in (info.error or ""), info.error
    assert host.registry("model_types").owner["mlp"] == "models"
    assert list(host.registry("worlds")) == list(PluginHost([]).registry("worlds"))  # the built-ins, nothing from the broken plugin


def test_raising_lifecycle_hook_is_a_warning_not_a_stop():
    host = PluginHost([str(CORPUS / "raising_lifecycle.py")])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        host.notify("tutelage_run_start", run_dir=".", spec={})
    assert [str(w.message) for w in caught] == [
        "plugin 'raising_lifecycle': tutelage_run_start raised RuntimeError: corpus: tracker offline"]


TINY_SPEC = """
name = "tiny"
seed = 0
world = "tutelage/Reach-v0"

[[stages]]
name = "demonstrations"
type = "generate"
policy = "expert"
episodes = 2
max_steps = 5
"""


def test_raising_lifecycle_hook_does_not_stop_a_run(tmp_path):
    (tmp_path / "tiny.toml").write_text(TINY_SPEC)
    plugin = str(CORPUS / "raising_lifecycle.py")
    result = subprocess.run([sys.executable, "-m", "tutelage.cli", "--plugin", plugin, "run", "tiny.toml", "--out",
                             "studies", "--quiet"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "plugin 'raising_lifecycle': tutelage_run_start raised RuntimeError: corpus: tracker offline" in result.stderr
    assert list((tmp_path / "studies").glob("tiny-*/report.html"))
