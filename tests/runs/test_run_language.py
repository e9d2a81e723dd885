"""The language stages in a run: lm-train → text-kd → text-critique → text-improve → text-collapse on a small corpus."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from runs_helpers import only_run_dir, summary_of
from tutelage import nn
from tutelage.cli import main
from tutelage.data.text import write_corpus
from tutelage.errors import SpecError
from tutelage.methods.text_topk import read_topk_targets
from tutelage.plugins import get_host
from tutelage.runs.spec import load_spec

DOCUMENTS = {f"doc{i}": "The cat (a small one) sat on the mat. It was happy.\n\nA dog ran in the park. "
             f"The end of part {i}.\n\n" * 8 for i in range(6)}
ARCH = "context = 16\nlayers = 1\nwidth = 16\nheads = 2\n"


def spec(tmp_path, improve: str = 'policy = "critique"\nteacher = "teacher"\nreference = "reference"') -> str:
    write_corpus(tmp_path / "corpus.parquet", DOCUMENTS, seed=0)
    text = f"""name = "language-tiny"
description = "tiny"
seed = 0
world = "tutelage/Reach-v0"

[[stages]]
name = "teacher"
type = "lm-train"
corpus = "corpus.parquet"
{ARCH}steps = 30
every = 15
lr = 1e-2

[[stages]]
name = "reference"
type = "lm-train"
corpus = "corpus.parquet"
{ARCH}steps = 30
samples = 0

[[stages]]
name = "student"
type = "text-kd"
corpus = "corpus.parquet"
teacher = "teacher"
student = {{ context = 16, layers = 1, width = 8, heads = 2 }}
steps = 20

[[stages]]
name = "critique"
type = "text-critique"
corpus = "corpus.parquet"
model = "student"
rounds = 1
samples = 6
steps = 10
max_tokens = 30
resample = 2
mix_max_chars = 200
preference_steps = 3

[[stages]]
name = "judge-improve"
type = "text-improve"
corpus = "corpus.parquet"
{improve}
pairs = 6
n = 2
prompts = 4
steps = 10
epochs = 3
episodes = 6
max_tokens = 30

[[stages]]
name = "collapse"
type = "text-collapse"
corpus = "corpus.parquet"
generations = 2
seeds = 2
chars = 300
steps = 5
temperature = 0.8
architecture = {{ context = 16, layers = 1, width = 8, heads = 2 }}
"""
    (tmp_path / "language.toml").write_text(text)
    return str(tmp_path / "language.toml")


def test_the_reference_stays_away_from_the_judges(tmp_path):
    with pytest.raises(SpecError, match="judge-improve.*reference.*neither the policy nor"):
        load_spec(spec(tmp_path, 'policy = "critique"\nteacher = "teacher"\nreference = "teacher"'), get_host())
    with pytest.raises(SpecError, match="'nope' is not an earlier language-model stage"):
        load_spec(spec(tmp_path, 'policy = "nope"\nteacher = "teacher"\nreference = "reference"'), get_host())


@pytest.mark.slow
def test_language_run_leaves_models_samples_and_curves(tmp_path):
    out = tmp_path / "runs"
    assert main(["run", spec(tmp_path), "--out", str(out), "--quiet"]) == 0
    run_dir = only_run_dir(out)
    stages = {s["name"]: s["result"] for s in summary_of(run_dir)["stages"]}
    assert list(stages) == ["teacher", "reference", "student", "critique", "judge-improve", "collapse"]
    for name in ("teacher", "student", "critique", "judge-improve"):
        lm = nn.load(run_dir / stages[name]["model"])
        assert lm.model_type == "lm" and (run_dir / stages[name]["samples"]).read_text().startswith("# Samples")
    assert 0 <= stages["critique"]["violations_after"] <= 1 and stages["judge-improve"]["wins"] + \
        stages["judge-improve"]["losses"] + stages["judge-improve"]["ties"] == 6
    [revised] = stages["critique"]["revised_by"]  # one round: samples fixed by search, then by the rules
    assert set(revised) == {"rules", "resample"} and sum(revised.values()) <= 6
    [preference] = stages["critique"]["preference"]  # DPO on the round's (revision, broken sample) pairs
    assert 0 < preference["pairs"] <= 6 and 0 <= preference["accuracy"] <= 1
    assert stages["collapse"]["rows"] == 2 * 2 * 3
    panels = {json.loads(line).get("panel") for line in (run_dir / "metrics.jsonl").read_text().splitlines()}
    assert {"teacher: validation loss (nats/char)", "critique: samples breaking a principle",
            "collapse: perplexity"} <= panels
    report = (run_dir / "report.html").read_text()
    assert len(report) > 10_000 and "<h2>Text samples</h2>" in report and "<td>judge-improve</td>" in report


def test_offline_top_k_kd_records_the_teacher_labels_in_the_lineage(tmp_path):
    text = Path(spec(tmp_path)).read_text()
    head = text[:text.index('[[stages]]\nname = "critique"')]  # teacher, reference and the text-kd student
    (tmp_path / "kd.toml").write_text(head.replace("steps = 20\n", "steps = 5\noffline_top_k = 4\nsamples = 0\n"))
    out = tmp_path / "runs"
    assert main(["run", str(tmp_path / "kd.toml"), "--out", str(out), "--quiet"]) == 0
    run_dir = only_run_dir(out)
    stages = {s["name"]: s["result"] for s in summary_of(run_dir)["stages"]}
    lineage = nn.load(run_dir / stages["student"]["model"]).info["lineage"]
    assert lineage["method"] == "token-kd-offline-top-k" and lineage["teacher"] == stages["teacher"]["model_id"]
    assert lineage["dataset"] == "data/student-topk.parquet" and lineage["data_depth"] == 1
    targets = read_topk_targets(run_dir / lineage["dataset"], teacher_id=stages["teacher"]["model_id"])
    assert targets.ids.shape[1] == 4 and targets.provenance["corpus"]["split"] == "train"
