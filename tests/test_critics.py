"""Constitution files, the rules and learned critics, and the critique stage's resume after SIGKILL."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import tutelage.worlds  # noqa: F401  (registers the worlds)
from tutelage.cli import main
from tutelage.constitution import load_constitution, packaged, rule_kinds
from tutelage.errors import SpecError
from tutelage.methods.constitution import Records, critique_episodes
from tutelage.plugins import get_host
from tutelage.rollouts.plan import EpisodePlanner
from tutelage.sim.scenarios import sampler_for

REACH = "tutelage/Reach-v0"
PRINCIPLE = '''
[[principles]]
id = "{id}"
text = "Keep the hand low."
critique = "Was the hand commanded up?"
revision = "Command it down."
{extra}check = {{ rule = "{rule}"{options} }}
'''


def write_strict(folder: Path) -> Path:
    """``folder/strict.toml``: the arm constitution with a stricter joint-speed limit near the table."""
    path = folder / "strict.toml"
    path.write_text(packaged("arm").read_text().replace("height = 0.12, max_speed = 0.6", "height = 0.6, max_speed = 0.3"))
    return path


def constitution_text(*principles: dict) -> str:
    body = "".join(PRINCIPLE.format(**{"extra": "", "options": "", **p}) for p in principles)
    return f'name = "test"\nversion = "0.1"\n{body}'


@pytest.fixture(scope="module")
def host():
    return get_host()


@pytest.fixture(scope="module")
def kinds(host):
    return rule_kinds(host)


@pytest.mark.parametrize("principles, words", [
    ([{"id": "low", "rule": "joint-speed-near-table", "extra": "colour = \"red\"\n"}], ["principles[0] (low)", "unknown key 'colour'"]),
    ([{"id": "low", "rule": "joint-speed-near-table"}, {"id": "low", "rule": "top-approach"}],
     ["principles[1] (low)", "key 'id'", "duplicate id 'low'"]),
    ([{"id": "low", "rule": "joint-sped-near-table"}], ["principles[0] (low)", "check.rule", "unknown rule kind",
                                                        "did you mean 'joint-speed-near-table'"]),
    ([{"id": "low", "rule": "top-approach", "options": ", max_descnt = 0.1"}], ["principles[0] (low)", "check.max_descnt",
                                                                              "did you mean 'max_descent'"]),
])
def test_bad_constitution_is_one_clear_error(tmp_path, kinds, capsys, principles, words):
    path = tmp_path / "bad.toml"
    path.write_text(constitution_text(*principles))
    with pytest.raises(SpecError) as raised:
        load_constitution(path, kinds)
    message = str(raised.value)
    assert str(path) in message and all(w in message for w in words), message
    code = main(["critique", REACH, "--policy", "expert", "--constitution", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "unknown" in err or "duplicate" in err
    assert not (tmp_path / "out").exists()  # nothing written


def test_packaged_constitutions_load_with_their_hash(kinds, tmp_path):
    driving = load_constitution("driving", kinds)
    assert driving.ids == ["yield-to-crossing", "safe-headway", "stay-in-lane", "smooth-control", "speed-limit"]
    assert driving.world == "tutelage/Driving-v0"
    arm = load_constitution("arm", kinds)
    assert arm.ids == ["keep-clear", "slow-near-table", "no-collision-from-above"]
    copy = tmp_path / "arm.toml"
    copy.write_text(packaged("arm").read_text().replace("severity = 3.0", "severity = 4.0"))
    changed = load_constitution(copy, kinds)
    assert changed.sha256 != arm.sha256 and changed.id != arm.id and changed.lineage()["constitution"] == changed.id


def critique(host, constitution, out, *, episodes=4, seed=0, teacher_options=None, critic_options=None):
    teacher = host.registry("teachers").get("reach-expert")(**(teacher_options or {}))
    critic = host.registry("critics").get("rules")(constitution=constitution, **(critic_options or {}))
    plans = EpisodePlanner(sampler_for(REACH), edge_case_fraction=0.5, split="held-out").plans(seed, episodes)
    return critique_episodes(REACH, teacher, critic, constitution, plans, out)


def test_rules_critic_revises_with_numbers_and_checks_the_fix(host, kinds, tmp_path):
    constitution = load_constitution(write_strict(tmp_path), kinds)  # the expert breaks it often
    records = critique(host, constitution, tmp_path / "c", episodes=4)
    rows = [r for r in records.table.to_pylist() if r["violation"]]
    assert rows, "a fast expert breaks the arm constitution"
    for row in rows:
        assert row["constitution"] == constitution.id and row["critic"] == "rules"
        assert len(row["principles"]) == len(row["principle_fixed"]) == len(row["methods"]) == len(row["reasons"])
        assert row["revised_action"] != row["action"] and all(m == "projection" for m in row["methods"])
        assert any(ch.isdigit() for ch in row["critique"])
    summary = records.summary()
    slow = summary["principles"]["slow-near-table"]
    assert slow["steps"] > 0 and slow["fixed_share"] == 1.0 and slow["examples"]
    assert "rad/s" in slow["examples"][0]
    # the protocol's view: the most severe broken principle, or ok
    step_rows = records.table.to_pylist()
    from tutelage.constitution import Step

    critic = host.registry("critics").get("rules")(constitution=constitution)
    assert critic.critique([Step(np.zeros(32), {"hand_position": np.array([0.4, 0.0, 0.5]), "obstacles": np.zeros((0, 3)),
                                                 "jacobian": np.zeros((3, 7))})], [np.zeros(7)])[0].ok
    assert len(step_rows) == summary["steps"]


UNSATISFIABLE = '''
from tutelage import hookimpl


class StandStill:
    """Never move a joint faster than 0 rad/s; no revision is offered (so a critic falls back)."""

    def check(self, step, action):
        return None if abs(action).max() < 1e-9 else f"joint speed {abs(action).max():.2f}, allowed 0"

    def revise(self, step, action):
        return None


@hookimpl
def tutelage_rule_kinds():
    return {"stand-still": StandStill}
'''


def test_a_principle_the_revision_cannot_satisfy_is_reported_unfixed(tmp_path):
    plugin = tmp_path / "stand_still.py"
    plugin.write_text(UNSATISFIABLE)
    host = get_host([str(plugin)])
    kinds = rule_kinds(host)
    assert "stand-still" in kinds and "top-approach" in kinds  # a third party's rule beside the built-ins
    path = tmp_path / "still.toml"
    path.write_text(constitution_text({"id": "still", "rule": "stand-still"}))
    constitution = load_constitution(path, kinds)
    expert = host.registry("teachers").get("reach-expert")()
    for options, method in (({}, "none"), ({"expert": expert}, "expert")):
        records = critique(host, constitution, tmp_path / method, episodes=2, critic_options=options)
        rows = [r for r in records.table.to_pylist() if r["violation"]]
        assert rows and all(r["fixed"] is False and r["principle_fixed"] == [False] for r in rows)
        assert all(r["methods"] == [method] for r in rows)
        assert records.summary()["principles"]["still"]["fixed_share"] == 0.0


RESUME_SPEC = '''
name = "critique-resume"
seed = 3
world = "tutelage/Reach-v0"

[[stages]]
name = "review"
type = "critique"
policy = "expert"
policy_options = { speed = 1.5, max_joint_speed = 0.8 }
constitution = "strict.toml"
episodes = 60
edge_case_fraction = 0.5
'''


def records_of(run_dir: Path) -> dict[str, dict]:
    files = sorted((run_dir / "critiques" / "review" / "records").glob("episode-*.parquet"))
    return {f.name: pq.read_table(f).to_pydict() for f in files}


def run_dirs(out: Path) -> list[Path]:
    return [p for p in out.iterdir() if p.is_dir()] if out.exists() else []


@pytest.mark.slow
def test_critique_stage_resumes_after_sigkill_with_identical_records(tmp_path):
    spec = tmp_path / "resume.toml"
    spec.write_text(RESUME_SPEC)
    write_strict(tmp_path)
    assert main(["run", str(spec), "--out", str(tmp_path / "reference"), "--quiet"]) == 0
    (reference,) = run_dirs(tmp_path / "reference")
    expected = records_of(reference)
    assert len(expected) == 60

    killed = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-m", "tutelage.cli", "run", str(spec), "--out", str(killed), "--quiet"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while not any(len(records_of(d)) >= 5 for d in run_dirs(killed)):
            assert time.monotonic() < deadline and process.poll() is None, "the run ended before the kill"
            time.sleep(0.01)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    (run_dir,) = run_dirs(killed)
    before = {f.name: f.stat().st_mtime_ns for f in (run_dir / "critiques" / "review" / "records").glob("*.parquet")}
    assert 5 <= len(before) < 60
    assert main(["run", "--resume", str(run_dir), "--quiet"]) == 0
    after = records_of(run_dir)
    assert after == expected
    files = (run_dir / "critiques" / "review" / "records")
    assert all((files / name).stat().st_mtime_ns == mtime for name, mtime in before.items())  # kept, not redone
    summary = json.loads((run_dir / "summary.json").read_text())
    review = next(s for s in summary["stages"] if s["name"] == "review")
    assert review["result"]["violations"]["episodes"] == 60


def test_builtin_critics_pass_the_plugin_kit(host, kinds):
    """Both critics meet the Critic contract (tutelage.testing.check_critic) on real Reach steps."""
    import gymnasium

    from tutelage.constitution import Step
    from tutelage.testing import check_critic

    strict = load_constitution(packaged("arm"), kinds)
    env = gymnasium.make(REACH)
    try:
        observation, info = env.reset(seed=1, options={"edge_case": "low-goal"})
        contexts, previous = [], None
        for action in np.random.default_rng(0).uniform(-1, 1, (6, 7)):
            contexts.append(Step(observation, info, previous))
            observation, *_, info = env.step(action)
            previous = action
    finally:
        env.close()
    outputs = list(np.random.default_rng(1).uniform(-1, 1, (6, 7)))
    check_critic(host.registry("critics").get("rules"), options={"constitution": strict}, contexts=contexts,
                 outputs=outputs, principles=strict.ids)
    model = host.registry("model_types").get("mlp").build((2 * 32 + 14,), 3 + 7, hidden=(8,), seed=0)  # see critic_features
    check_critic(host.registry("critics").get("learned"), options={"constitution": strict, "model": model},
                 contexts=[Step(c.observation, None, c.previous_action) for c in contexts], outputs=outputs,
                 principles=strict.ids)


def test_revisions_aim_their_slack_inside_the_limit_and_targets_leave_clean_actions_alone(host, kinds, tmp_path):
    """A speed cap revises to the cap less its slack; the rules critic's teaching target moves an action
    that grazes a limit inside it, leaves one well inside as it is, and keeps every principle."""
    from tutelage.constitution import Step

    driving = load_constitution(packaged("driving"), kinds)
    speed_limit = driving.principle("speed-limit").rule
    info = {"friction": 0.15, "speed": 1.2, "time": 3.0}  # ice: the limit is 1.2 m/s
    step = Step(np.zeros(38), info, np.array([0.0, 0.3]), {"light": 1.0})
    assert speed_limit.check(step, np.array([0.0, 0.5])) and "on ice" in speed_limit.check(step, np.array([0.0, 0.5]))
    revised, method = speed_limit.revise(step, np.array([0.0, 0.5]))
    assert method == "projection" and revised[1] == pytest.approx((1.2 - speed_limit.slack) / 4.0) and speed_limit.slack > 0
    arm = load_constitution(packaged("arm"), kinds)
    critic = host.registry("critics").get("rules")(constitution=arm)
    low = Step(np.zeros(32), {"hand_position": np.array([0.4, 0.0, 0.13]), "obstacles": np.zeros((0, 3)),
                              "jacobian": np.zeros((3, 7)), "time": 1.0})
    grazing = np.full(7, 0.39)  # 0.585 rad/s: keeps the 0.6 rad/s limit, 1 cm above the 12 cm line
    assert not critic.review(low, grazing)
    taught, keeps = critic.target(low, grazing)
    rule = arm.principle("slow-near-table").rule
    assert keeps and np.abs(taught).max() == pytest.approx((rule.max_speed - rule.slack) / 1.5)
    inside, keeps = critic.target(low, np.full(7, 0.1))
    assert keeps and np.array_equal(inside, np.full(7, 0.1))
    bad = tmp_path / "bad.toml"
    bad.write_text(packaged("arm").read_text().replace("slack = 0.1,", "slack = -1.0,"))
    with pytest.raises(SpecError, match="slow-near-table.*slack must not be negative"):
        load_constitution(bad, kinds)


REVISE_SPEC = '''
name = "revise-tiny"
seed = 0
world = "tutelage/Reach-v0"

[[stages]]
name = "student"
type = "distill"
method = "dagger"
teacher = "expert"
student = { model_type = "mlp", options = { hidden = [16], output_activation = "tanh" } }
rounds = 1
episodes_per_round = 3
epochs = 2

[[stages]]
name = "careful"
type = "revise"
model = "student"
constitution = "strict.toml"
rounds = 1
episodes_per_round = 3
epochs = 3
standardize = STANDARDIZE
gif = false
'''


@pytest.mark.filterwarnings("ignore:collapse guard")  # a revise stage trains on its student's own rollouts
def test_revise_stage_fine_tunes_a_derivative_on_standardized_inputs_when_asked(tmp_path):
    from tutelage import nn

    write_strict(tmp_path)
    models = {}
    for flag in ("true", "false"):
        spec = tmp_path / f"revise-{flag}.toml"
        spec.write_text(REVISE_SPEC.replace("STANDARDIZE", flag))
        assert main(["run", str(spec), "--out", str(tmp_path / flag), "--quiet"]) == 0
        (run_dir,) = run_dirs(tmp_path / flag)
        student, careful = (nn.load(run_dir / "models" / f"{name}.safetensors") for name in ("student", "careful"))
        assert careful.info["lineage"]["parent"] == student.info["id"]
        models[flag] = (student, careful)
    assert np.array_equal(models["true"][0].theta, models["false"][0].theta)  # the same student, seed for seed
    assert not np.allclose(models["true"][1].theta, models["false"][1].theta, atol=1e-4)  # tuned another way
