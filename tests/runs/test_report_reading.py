"""What a reader of the report sees: a GIF that changes and ends on an outcome, labelled plots, definitions,
intervals; checked on the files and in headless Chromium."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import tutelage.worlds  # noqa: F401  (registers the worlds)
from test_run_report import CHROMIUM, render_in_chromium
from tutelage.cli import main
from tutelage.plugins import get_host
from tutelage.runs.plots import metadata_path
from tutelage.runs.summary import separation_notes
from tutelage.sim.scenarios import sampler_for
from tutelage_plugins.stages.showcase import Episode, outcome, record_pair


def frames(path: Path) -> list[np.ndarray]:
    image = Image.open(path)
    out = []
    for i in range(image.n_frames):
        image.seek(i)
        out.append(np.asarray(image.convert("RGB"), dtype=np.int16))
    return out


def test_the_gif_changes_and_ends_on_each_policys_outcome(tmp_path):
    world = "tutelage/Reach-v0"
    expert = get_host().registry("teachers").get("reach-expert")()
    still = lambda observation, info: np.zeros(7, np.float32)  # noqa: E731  (never moves: times out)
    scenario = sampler_for(world).sample(np.random.default_rng(0))
    caption = record_pair(world, {"teacher: expert": expert, "student: still": still}, Episode(scenario, 0, 0),
                          tmp_path / "pair.gif", steps=200, every=4)
    shown = frames(tmp_path / "pair.gif")
    assert len(shown) > 12 and np.abs(shown[0] - shown[-1]).mean() > 1.0  # the first and last frames differ
    half = shown[0].shape[1] // 2
    assert np.abs(shown[0][:, :half] - shown[-1][:, :half]).mean() > 1.0  # the expert's panel moved
    assert "(left, success)" in caption and "(right, time limit)" in caption


def test_outcomes_name_what_was_hit():
    assert outcome({"is_success": True}, False) == "success"
    assert outcome({"collision": True, "collided_with": "pedestrian"}, False) == "collision with pedestrian"
    assert outcome({"off_road": True}, False) == "off road"
    assert outcome({}, True) == "time limit"


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evaluation")
    assert main(["evaluate", "expert", "random", "--world", "tutelage/Reach-v0", "--episodes", "4", "--max-steps", "30",
                 "--edge-case", "cluttered", "--report", str(folder / "report"), "--quiet"]) == 0
    return folder / "report"


def test_every_plot_has_labelled_axes_and_every_bar_its_n(evaluation):
    plots = sorted((evaluation / "plots").glob("*.png"))
    assert plots
    for png in plots:
        meta = json.loads(metadata_path(png).read_text())
        assert meta["panels"] and all(p["x_label"] and p["y_label"] and p["title"] for p in meta["panels"]), meta
    page = (evaluation / "report.html").read_text()
    assert 'id="how-to-read"' in page and "<dt>success</dt>" in page and "<dt>return</dt>" in page
    assert "final distance" in page.lower() or "final_distance" in page  # the world's metrics are defined
    assert re.search(r"\d+\.\d % \(\d+–\d+\)", page)  # success with its interval


def test_a_note_says_when_the_sample_cannot_separate_two_policies():
    def summary(student: tuple[int, int]) -> dict:
        return {"policies": {"expert": {"role": "teacher", "success_rate": 1.0, "episodes": 8},
                             "bc": {"role": "student", "success_rate": student[0] / student[1], "episodes": student[1]}}}

    (note,) = separation_notes(summary((6, 8)))  # 6/8 against 8/8: the interval of the difference holds 0
    assert note.startswith("bc vs expert") and "n = 8 and 8" in note
    assert separation_notes(summary((0, 8))) == []  # 0/8 against 8/8: clearly apart


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (CI installs Debian's chromium)")
def test_the_evaluation_report_renders_in_chromium(evaluation, tmp_path):
    seen = render_in_chromium(evaluation / "report.html", tmp_path)
    assert seen["images"] >= 1 and seen["loaded"] == seen["images"], seen["broken"]
    assert {row["policy"] for row in seen["rows"]} == {"expert", "random"}
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    f"--screenshot={shot}", "--window-size=1100,1400", (evaluation / "report.html").as_uri()],
                   capture_output=True, timeout=120)
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
    assert pixels.std() > 10  # text, a table and a plot, not an empty page


def test_the_gif_replays_an_evaluated_episode_where_teacher_and_student_differ(tmp_path):
    from tutelage.methods.evaluate import evaluate
    from tutelage_plugins.stages.evaluate import gif_episode

    world = "tutelage/Reach-v0"
    teachers = get_host().registry("teachers")
    weak = teachers.get("reach-expert")()
    lazy = lambda observation, info: np.zeros(7, np.float32)  # noqa: E731  (never moves: never succeeds)
    records = {name: evaluate(policy, world, episodes=6, seed=3, edge_case_fraction=0.5, quiet=True).episodes
               for name, policy in (("teacher", weak), ("student", lazy))}
    differ = [i for i, (t, s) in enumerate(zip(records["teacher"], records["student"])) if t["success"] != s["success"]]
    context = type("Context", (), {"sampler": sampler_for(world)})()
    episode = gif_episode(context, records["teacher"], records["student"], "", seed=3)
    assert differ  # the expert succeeds somewhere
    chosen = records["teacher"][differ[0]]
    assert (episode.env_seed, episode.policy_seed) == (chosen["env_seed"], chosen["policy_seed"])
    caption = record_pair(world, {"teacher": teachers.get("reach-expert")(), "student": lazy}, episode,
                          tmp_path / "pair.gif", steps=100, every=4)
    left = "success" if chosen["success"] else "time limit"
    assert f"(left, {left})" in caption  # the replay ends as the evaluation did
