"""The low-pass action filter: exact on a real world, restarted each episode, and checked input."""
from __future__ import annotations

import json

import numpy as np
import pytest

import tutelage.worlds  # noqa: F401  (registers the worlds)
from tutelage.cli import main
from tutelage.constitution import load_constitution, rule_kinds
from tutelage.errors import SpecError
from tutelage.methods.constitution import critique_episodes
from tutelage.plugins import get_host
from tutelage.rollouts.lowpass import LowPassPolicy
from tutelage.rollouts.plan import EpisodePlanner
from tutelage.sim.scenarios import sampler_for

REACH = "tutelage/Reach-v0"


class Recorder:
    """The Reach expert, remembering every action it proposed."""

    def __init__(self, expert):
        self.expert, self.raw = expert, []

    def reset(self, seed=None):
        self.expert.reset(seed=seed)
        self.raw.append([])

    def act(self, observation, info):
        action = np.asarray(self.expert.act(observation, info))
        self.raw[-1].append(action)
        return action


def test_records_hold_the_filtered_action_restarted_every_episode(tmp_path):
    host = get_host()
    constitution = load_constitution("arm", rule_kinds(host))
    expert = host.registry("teachers").get(host.registry("worlds").get(REACH).expert)()
    critic = host.registry("critics").get("rules")(constitution=constitution, expert=expert)
    recorder = Recorder(expert)
    alpha = np.linspace(0.0, 0.9, action_size())  # a weight per joint, 0 (no filter) included
    plans = EpisodePlanner(sampler_for(REACH), split="held-out").plans(0, 2)
    records = critique_episodes(REACH, LowPassPolicy(recorder, alpha), critic, constitution, plans, tmp_path / "out",
                                max_steps=12)
    taken, episodes = records.matrix("action"), np.array(records.column("episode_index"))
    assert len(recorder.raw) == 2
    for raw, plan in zip(recorder.raw, plans):
        expected, last = [], None
        for action in raw:
            last = action.astype(np.float64) if last is None else alpha * last + (1 - alpha) * action
            expected.append(last.astype(action.dtype))
        assert np.array_equal(taken[episodes == plan.index], np.array(expected))  # each episode starts afresh
    smooth = np.abs(np.diff(taken[episodes == plans[0].index], axis=0)).mean()
    rough = np.abs(np.diff(np.array(recorder.raw[0]), axis=0)).mean()
    assert smooth < rough


def action_size() -> int:
    from tutelage.rollouts.rollout import make_env

    env = make_env(REACH, max_steps=2)
    try:
        return int(np.prod(env.action_space.shape))
    finally:
        env.close()


def test_falls_have_their_own_weight_and_reset_forgets_the_last_action():
    actions = iter(np.array([[0.0, 0.0], [1.0, 1.0], [0.2, 0.2], [0.5, 0.5], [0.4, 0.4]], np.float32))
    policy = LowPassPolicy(lambda observation: next(actions), [0.5, 0.5], fall=[0.0, 0.5])
    policy.reset(seed=0)
    taken = [policy.act(None, {}) for _ in range(4)]
    # rise: halfway; fall, weight 0: at once; fall, weight 0.5: halfway
    np.testing.assert_allclose(taken, [[0.0, 0.0], [0.5, 0.5], [0.2, 0.35], [0.35, 0.425]], rtol=1e-6)
    assert policy.info["action_filter"] == {"rise": [0.5, 0.5], "fall": [0.0, 0.5]}
    policy.reset(seed=1)
    np.testing.assert_array_equal(policy.act(None, {}), np.float32([0.4, 0.4]))


@pytest.mark.parametrize("alpha", [1.0, -0.1, [], [[0.5]], [0.2, float("nan")]])
def test_bad_weights_are_one_clear_error(alpha):
    with pytest.raises(SpecError, match=r"action filter: each weight must be in \[0, 1\)"):
        LowPassPolicy(lambda observation: observation, alpha)


def test_weights_that_do_not_match_the_action_are_an_error():
    policy = LowPassPolicy(lambda observation: np.zeros(3, np.float32), [0.5, 0.5])
    with pytest.raises(SpecError, match=r"2 weights for an action of shape \(3,\)"):
        policy.act(np.zeros(4), {})


def test_critique_cli_filters_the_policy_and_rejects_bad_weights(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["critique", REACH, "--policy", "expert", "--constitution", "arm", "--episodes", "1", "--max-steps", "8",
            "--quiet", "--out", str(out)]
    assert main([*args, "--action-filter", "0.5", "--action-filter-fall", "0.1"]) == 0
    manifest = json.loads((out / "critique.json").read_text())
    assert manifest["policy"].endswith("low-pass 0.5 fall 0.1")
    bad = tmp_path / "bad"
    assert main([*args[:-1], str(bad), "--action-filter", "0.5,x"]) == 2
    assert main([*args[:-1], str(bad), "--action-filter", "1.2"]) == 2
    assert main([*args[:-1], str(bad), "--action-filter", "0.5", "--action-filter-fall", "-1"]) == 2
    assert main([*args[:-1], str(bad), "--action-filter-fall", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "--action-filter: expected numbers separated by commas, got '0.5,x'" in err
    assert "--action-filter: each weight must be in [0, 1), got [1.2]" in err
    assert "--action-filter-fall: each weight must be in [0, 1), got [-1.0]" in err
    assert "--action-filter-fall: needs --action-filter" in err
    assert not bad.exists()


STAGE_SPEC = '''
world = "tutelage/Reach-v0"
name = "filtered-critique"

[[stages]]
type = "critique"
name = "smoothed"
policy = "expert"
constitution = "arm"
episodes = 2
max_steps = 8
{options}
'''


def test_critique_stage_filters_the_policy_and_checks_its_weights_before_running(tmp_path, capsys):
    spec = tmp_path / "filtered.toml"
    spec.write_text(STAGE_SPEC.format(options="action_filter = [0.5]\naction_filter_fall = [0.0]"))
    assert main(["run", str(spec), "--out", str(tmp_path / "runs"), "--quiet"]) == 0
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    manifest = json.loads((run_dir / "critiques" / "smoothed" / "critique.json").read_text())
    assert manifest["policy"] == "expert low-pass 0.5 fall 0.0"
    for options, words in [("action_filter = [1.5]", "filtered.toml.stages[0] (smoothed).action_filter: each weight must be in [0, 1), got [1.5]"),
                           ("action_filter_fall = [0.5]", "filtered.toml.stages[0] (smoothed).action_filter_fall: needs action_filter")]:
        spec.write_text(STAGE_SPEC.format(options=options))
        assert main(["run", str(spec), "--out", str(tmp_path / "bad"), "--quiet"]) == 2
        assert words in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
