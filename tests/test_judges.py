"""Honest judging: both orders, failures are abstentions, never preferences (the two TRL bugs)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tutelage.judging import agreement, judge_pairs, judge_stats, rank, swap
from tutelage.plugins import get_host
from tutelage.protocols import Judge, Verdict


class ScriptedJudge:
    """Answers from a table keyed by the pair as shown: 'first', 'second', 'tie', 'abstain' or 'raise'."""

    name = "scripted"

    def __init__(self, table: dict[tuple[int, int], str]):
        self.table = table

    def judge(self, contexts, pairs):
        out = []
        for a, b in pairs:
            answer = self.table.get((a, b), "first" if a > b else "second")
            if answer == "raise":
                raise RuntimeError(f"judge crashed on {a} vs {b}")
            out.append(Verdict(answer))
        return out


ANSWERS = st.sampled_from(["first", "second", "tie", "abstain", "raise"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(ANSWERS, ANSWERS), min_size=1, max_size=12))
def test_a_failed_or_abstained_order_never_becomes_a_preference(answers):
    """TRL bug 1: a failed verdict (-1) was un-shuffled into 2, a preference for the second item."""
    pairs = [(2 * i, 2 * i + 1) for i in range(len(answers))]
    table = {}
    for (a, b), (forward, backward) in zip(pairs, answers):
        table[(a, b)], table[(b, a)] = forward, backward
    judged = judge_pairs(ScriptedJudge(table), [None] * len(pairs), pairs)
    for (forward, backward), pair in zip(answers, judged):
        if {"abstain", "raise"} & {forward, backward}:
            assert pair.verdict.choice == "abstain" and pair.verdict.p_first is None
            assert not pair.flipped
        else:
            assert pair.verdict.choice in ("first", "second", "tie")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["ok", "raise", "abstain"]), min_size=1, max_size=16))
def test_failures_are_not_counted_as_second_wins(outcomes):
    """TRL bug 2: any failure counted as "second wins". The first item is always the better one here."""
    pairs = [(2 * i + 1, 2 * i) for i in range(len(outcomes))]
    table = {}
    for (a, b), outcome in zip(pairs, outcomes):
        if outcome != "ok":
            table[(a, b)] = table[(b, a)] = outcome
    verdicts = [j.verdict for j in judge_pairs(ScriptedJudge(table), [None] * len(pairs), pairs)]
    assert [v.choice for v in verdicts].count("second") == 0
    assert [v.choice for v in verdicts].count("first") == outcomes.count("ok")
    assert [v.choice for v in verdicts].count("abstain") == len(outcomes) - outcomes.count("ok")


def test_a_judge_that_raises_on_some_pairs_abstains_there_and_keeps_the_rest():
    table = {(3, 2): "raise", (2, 3): "raise", (5, 4): "raise"}  # pair (5, 4) fails in one order only
    judged = judge_pairs(ScriptedJudge(table), [None] * 3, [(1, 0), (3, 2), (5, 4)])
    assert [j.verdict.choice for j in judged] == ["first", "abstain", "abstain"]
    assert "RuntimeError: judge crashed on 3 vs 2" in judged[1].verdict.reason
    assert judged[0].verdict.p_first == 1.0
    assert judge_stats(judged).abstain_rate == pytest.approx(2 / 3)


def test_wrong_results_are_abstentions():
    class Sloppy:
        name = "sloppy"

        def judge(self, contexts, pairs):
            return [1 if a > b else -1 for a, b in pairs]  # TRL's indices, not verdicts

    judged = judge_pairs(Sloppy(), [None, None], [(1, 0), (0, 1)])
    assert all(j.abstained for j in judged)
    assert "not a Verdict" in judged[0].verdict.reason


def test_position_bias_is_measured():
    class AlwaysFirst:
        name = "always-first"

        def judge(self, contexts, pairs):
            return [Verdict("first", 0.8, "shown first") for _ in pairs]

    judged = judge_pairs(AlwaysFirst(), [None] * 4, [(i, i + 10) for i in range(4)])
    stats = judge_stats(judged)
    assert stats.flip_rate == 1.0 and stats.first_position_rate == 1.0
    assert all(j.verdict.choice == "tie" and j.verdict.p_first == pytest.approx(0.5) for j in judged)


def test_swap_maps_probabilities_and_keeps_abstentions():
    swapped = swap(Verdict("first", 0.7, "why"))
    assert (swapped.choice, swapped.p_first, swapped.reason) == ("second", pytest.approx(0.3), "why")
    assert swap(Verdict("tie")) == Verdict("tie")
    assert swap(Verdict("abstain", None, "x")).choice == "abstain"


def test_rank_orders_candidates_with_the_same_contract():
    table = {(4, 2): "raise", (2, 4): "raise"}
    ranking = rank(ScriptedJudge(table), None, [3, 9, 4, 2])
    assert ranking.order[0] == 1 and ranking.order[-1] == 3
    assert ranking.abstentions == 1


def test_agreement_counts_strict_preferences_only():
    a = [Verdict("first"), Verdict("second"), Verdict("tie"), Verdict("abstain")]
    b = [Verdict("first"), Verdict("first"), Verdict("first"), Verdict("first")]
    assert agreement(a, b) == (1, 2)


def test_builtin_judges_are_plugins_on_the_contract():
    host = get_host()
    judges = host.registry("judges")
    assert {"oracle", "expert", "model"} <= set(judges)
    scorer = judges.get("oracle")(score=lambda context, output: len(output))  # any model outputs
    assert isinstance(scorer, Judge)
    judged = judge_pairs(scorer, [{"prompt": "x"}] * 2, [("long answer", "short"), ("a", "bb")])
    assert [j.verdict.choice for j in judged] == ["first", "second"]


def test_noisy_oracle_is_seeded_and_flips_near_ties_only():
    judges = get_host().registry("judges")
    noisy = judges.get("oracle")(score=lambda context, output: float(output), temperature=0.2, seed=3)
    outputs = np.linspace(0.0, 1.0, 41)
    pairs = [(float(outputs[i]), float(outputs[-1 - i])) for i in range(20)]
    contexts = [{"pair_id": str(i)} for i in range(20)]
    first = [j.verdict for j in judge_pairs(noisy, contexts, pairs)]
    assert first == [j.verdict for j in judge_pairs(noisy, contexts, pairs)]
    assert all(v.choice == "second" for v in first[:3])  # returns far apart: the noisy rater agrees


def test_constitution_judge_weighs_rule_violations_on_real_reach_trajectories():
    import tutelage.worlds  # noqa: F401
    from tutelage.errors import SpecError
    from tutelage.methods.preferences import Trajectory, collect_pairs
    from tutelage.rollouts.plan import EpisodePlanner
    from tutelage.sim.scenarios import sampler_for

    world = "tutelage/Reach-v0"
    host = get_host()
    judge = host.registry("judges").get("constitution")(world=world)
    assert isinstance(judge, Judge) and judge.constitution.name == "arm"

    class Sweep:  # the arm swung down at a constant joint speed: fast breaks 'slow-near-table', slow keeps it
        def __init__(self, speed):
            self.action = speed * np.array([0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0])

        def reset(self, seed=None):
            pass

        def act(self, observation, info):
            return self.action

    pairs = collect_pairs(world, Sweep(1.0), Sweep(0.3), EpisodePlanner(sampler_for(world)).plans(3, 2), max_steps=40)
    judged = judge_pairs(judge, [p.context for p in pairs], [(p.first, p.second) for p in pairs])
    severity = judge.constitution.severity()
    weighed = [[sum(severity[k] * v for k, v in judge.violations(t).items()) / t.length for t in (p.first, p.second)]
               for p in pairs]
    expected = ["first" if a < b else "second" if a > b else "tie" for a, b in weighed]
    assert [j.verdict.choice for j in judged] == expected == ["second", "second"]
    assert judge_stats(judged).flip_rate == 0.0
    stored = Trajectory("x", pairs[0].first.observations, pairs[0].first.actions)  # no infos: cannot judge
    assert judge_pairs(judge, [{}], [(stored, pairs[0].second)])[0].verdict.choice == "abstain"
    with pytest.raises(SpecError, match="constitution="):
        host.registry("judges").get("constitution")(world="CartPole-v1")
