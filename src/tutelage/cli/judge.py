"""``tutelage judge``: two policies on the same scenarios, judged in both orders; agreement with the oracle."""
from __future__ import annotations

import argparse
import inspect
import time

from rich.console import Console

from tutelage.cli import host_of, policy_options

NAME = "judge"
HELP = "judge two policies' episodes pairwise (both orders) and print the judge's agreement with the oracle"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("world", metavar="WORLD", help="a tutelage world with an oracle, e.g. tutelage/Reach-v0")
    parser.add_argument("--policies", nargs=2, required=True, metavar=("A", "B"),
                        help="random, expert, a teacher name, or a .safetensors model (each)")
    parser.add_argument("--judge", required=True, help="a registered judge: oracle, expert, model, or a plugin's")
    parser.add_argument("--judge-option", action="append", default=[], metavar="KEY=VALUE",
                        help="an option of the judge (TOML value, e.g. temperature=0.1); repeatable")
    parser.add_argument("--pairs", type=int, default=50, help="scenarios, one pair each (default 50)")
    parser.add_argument("--seed", type=int, default=0, help="scenario seed")
    parser.add_argument("--max-steps", type=int, default=None, help="time limit per episode (default: the world's)")
    parser.add_argument("--out", metavar="DIR", help="also write the preference dataset (Parquet) there")


def run(args: argparse.Namespace) -> int:
    from tutelage.errors import SpecError
    from tutelage.judging import agreement, judge_pairs, judge_stats
    from tutelage.methods.preferences import collect_pairs, judge_dataset
    from tutelage.rollouts.plan import EpisodePlanner
    from tutelage.rollouts.policy import Policy, resolve_policy
    from tutelage.rollouts.rollout import make_env
    from tutelage.sim.scenarios import sampler_for
    from tutelage.stats import wilson

    if args.pairs < 1:
        raise SpecError(f"--pairs: must be at least 1, got {args.pairs}")
    host = host_of(args)
    judges = host.registry("judges")
    judge = judges.get(args.judge)(**{"world": args.world, **policy_options(args.judge_option, "--judge-option")}
                                   if "world" in inspect.signature(judges.get(args.judge)).parameters
                                   else policy_options(args.judge_option, "--judge-option"))
    oracle = judges.get("oracle")(world=args.world)
    env = make_env(args.world, max_steps=args.max_steps)
    try:
        policies = [Policy(resolve_policy(name, args.world, host), env) for name in args.policies]
    finally:
        env.close()
    plans = EpisodePlanner(sampler_for(args.world), split="held-out").plans(args.seed, args.pairs)
    pairs = collect_pairs(args.world, *policies, plans, labels=tuple(args.policies), max_steps=args.max_steps)
    contexts, items = [p.context for p in pairs], [(p.first, p.second) for p in pairs]
    timed = {}
    for name, j in ((args.judge, judge), ("oracle", oracle)):
        started = time.perf_counter()
        timed[name] = (judge_pairs(j, contexts, items), time.perf_counter() - started)
    judged, seconds = timed[args.judge]
    truth = [j.verdict for j in timed["oracle"][0]]
    agree, compared = agreement([j.verdict for j in judged], truth)
    stats = judge_stats(judged)
    console = Console(highlight=False, soft_wrap=True)
    a_wins = sum(v.choice == "first" for v in truth)
    console.print(f"{args.world}: {len(pairs)} pairs, {args.policies[0]} better by the oracle in {a_wins}")
    share = wilson(agree, compared).percent() if compared else "n/a (no strict preferences in common)"
    console.print(f"judge {args.judge}: agreement with the oracle {share}; position flips {100 * stats.flip_rate:.1f} %, "
                  f"abstentions {100 * stats.abstain_rate:.1f} %; {len(pairs) / max(seconds, 1e-9):.1f} pairs/s "
                  f"(oracle {len(pairs) / max(timed['oracle'][1], 1e-9):.1f} pairs/s)")
    if args.out:
        console.print(f"dataset: {judge_dataset(judge, pairs, args.out, judge_name=args.judge)}")
    return 0
