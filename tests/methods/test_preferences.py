"""Preference datasets: paired rollouts on one scenario, Parquet rows, resume after SIGKILL with identical data."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pyarrow.parquet as pq
import pytest

from tutelage.methods.preferences import (PARTS, PREFERENCES, GaussianPolicy, collect_pairs, judge_dataset,
                                          load_dataset, samples)
from tutelage.rollouts.plan import EpisodePlanner

SCRIPT = textwrap.dedent("""
    import sys, time
    import numpy as np
    from tutelage.methods.preferences import collect_pairs, judge_dataset
    from tutelage.plugins import get_host
    from tutelage.rollouts.plan import EpisodePlanner

    def expert(observation, info):
        return int(observation[2] + 0.5 * observation[3] > 0)

    def wobbly(observation, info):
        return int(observation[2] + 0.5 * observation[3] > 0.05 * np.sin(7 * observation[0]))

    def slow_length(context, trajectory):
        time.sleep(float(sys.argv[2]))
        return trajectory.length

    pairs = collect_pairs("CartPole-v1", expert, wobbly, EpisodePlanner().plans(3, 12), max_steps=80)
    judge = get_host().registry("judges").get("oracle")(score=slow_length, temperature=0.5, seed=1)
    judge_dataset(judge, pairs, sys.argv[1], judge_name="slow-oracle", chunk=2)
""")


def run_script(out, delay: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(out), str(delay)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


@pytest.mark.slow
def test_judging_resumes_after_sigkill_with_identical_data(tmp_path):
    killed = run_script(tmp_path / "killed", 0.05)
    parts = tmp_path / "killed" / PARTS
    deadline = time.time() + 60
    while not (parts / "part-00001.parquet").exists():
        assert killed.poll() is None and time.time() < deadline, killed.stderr.read().decode()
        time.sleep(0.02)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert not (tmp_path / "killed" / PREFERENCES).exists()
    done_before = sorted(p.name for p in parts.glob("part-*.parquet"))
    assert 2 <= len(done_before) < 6
    stamps = {name: (parts / name).stat().st_mtime_ns for name in done_before}

    assert run_script(tmp_path / "killed", 0.0).wait() == 0  # resumed
    assert run_script(tmp_path / "clean", 0.0).wait() == 0
    assert {name: (parts / name).stat().st_mtime_ns for name in done_before} == stamps  # kept, not re-judged
    resumed = pq.read_table(tmp_path / "killed" / PREFERENCES)
    clean = pq.read_table(tmp_path / "clean" / PREFERENCES)
    assert resumed.num_rows == 12 and resumed.equals(clean)
    assert not list((tmp_path / "killed").rglob(".tmp-*"))


def cartpole_expert(observation, info):
    return int(observation[2] + 0.5 * observation[3] > 0)


class Killed(BaseException):
    """Stands in for a kill: not an Exception, so no judge wrapper turns it into an abstention."""


def test_an_interrupted_judging_resumes_from_its_parts(tmp_path):
    from tutelage.plugins import get_host

    pairs = collect_pairs("CartPole-v1", cartpole_expert, lambda o, i: int(o[0] > 0), EpisodePlanner().plans(1, 8),
                          max_steps=60)
    calls = []

    def length(context, trajectory):
        calls.append(trajectory.id)
        if len(calls) > 2 * 2 * 2 * 2:  # two chunks of two pairs, both items, both orders
            raise Killed
        return trajectory.length

    oracle = get_host().registry("judges").get("oracle")
    with pytest.raises(Killed):
        judge_dataset(oracle(score=length, temperature=0.3), pairs, tmp_path / "a", chunk=2)
    assert len(list((tmp_path / "a" / PARTS).glob("part-*"))) == 2
    calls.clear()
    judge_dataset(oracle(score=lambda c, t: calls.append(t.id) or t.length, temperature=0.3), pairs, tmp_path / "a", chunk=2)
    assert len(calls) == 2 * 2 * 2 * 2  # only the two chunks left were judged
    judge_dataset(oracle(score=lambda c, t: t.length, temperature=0.3), pairs, tmp_path / "b", chunk=2)
    assert pq.read_table(tmp_path / "a" / PREFERENCES).equals(pq.read_table(tmp_path / "b" / PREFERENCES))


def test_dataset_rows_hold_context_ids_both_orders_and_trajectories(tmp_path):
    plans = EpisodePlanner().plans(0, 4)
    pairs = collect_pairs("CartPole-v1", cartpole_expert, lambda o, i: 0, plans, labels=("expert", "left"), max_steps=40)
    assert all(p.first.meta["env_seed"] == p.second.meta["env_seed"] for p in pairs)
    np.testing.assert_array_equal(pairs[0].first.observations[0], pairs[0].second.observations[0])  # same start
    from tutelage.plugins import get_host

    judge = get_host().registry("judges").get("oracle")(score=lambda context, t: t.length)
    judge_dataset(judge, pairs, tmp_path)
    rows, trajectories = load_dataset(tmp_path)
    assert [r["choice"] for r in rows] == ["first"] * 4
    row = rows[0]
    assert row["first_policy"] == "expert" and row["second_policy"] == "left" and row["judge"] == "oracle"
    assert (row["forward_choice"], row["backward_choice"], row["flipped"]) == ("first", "second", False)
    assert row["env_seed"] == plans[0].seeds.env and row["p_first"] == 1.0 and "oracle return" in row["reason"]
    first = trajectories[row["first_id"]]
    np.testing.assert_array_equal(first.actions, pairs[0].first.actions)
    assert first.infos is None and first.meta["policy"] == "expert"


def test_gaussian_samples_differ_per_sample_and_repeat_per_seed():
    from tutelage.plugins import get_host

    model = get_host().registry("model_types").get("mlp").build((4,), 1, hidden=(8,), seed=0)
    plan = EpisodePlanner().plan(0, 0)
    first = samples("CartPole-v1", GaussianPolicy(model, 0.5), plan, 3, max_steps=30)
    again = samples("CartPole-v1", GaussianPolicy(model, 0.5), plan, 3, max_steps=30)
    assert len({t.meta["policy_seed"] for t in first}) == 3
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.actions, b.actions)


@pytest.mark.slow
def test_reach_pairs_are_judged_by_oracle_and_expert():
    import tutelage.worlds  # noqa: F401
    from tutelage.judging import judge_pairs
    from tutelage.plugins import get_host
    from tutelage.sim.scenarios import sampler_for

    host = get_host()
    world = "tutelage/Reach-v0"
    expert = host.registry("teachers").get("reach-expert")()
    plans = EpisodePlanner(sampler_for(world)).plans(0, 6)
    pairs = collect_pairs(world, expert, lambda o, i: np.zeros(7), plans, max_steps=40)
    for name in ("oracle", "expert"):
        judge = host.registry("judges").get(name)(world=world)
        judged = judge_pairs(judge, [p.context for p in pairs], [(p.first, p.second) for p in pairs])
        assert [j.verdict.choice for j in judged] == ["first"] * 6, name
