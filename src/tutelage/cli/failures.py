"""``tutelage failures``: search scenarios where a policy fails; write a catalogue to replay."""
from __future__ import annotations

import argparse

from rich.console import Console

from tutelage.cli import add_policy_arguments, host_of, policy_options
from tutelage.rollouts.failure_search import search_failures

NAME = "failures"
HELP = "search scenario parameters for failures of a policy; write a replayable catalogue"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_policy_arguments(parser)
    parser.add_argument("--out", required=True, metavar="CATALOGUE", help="catalogue to write (JSON)")
    parser.add_argument("--budget", type=int, default=64, help="episodes to spend (default 64)")
    parser.add_argument("--population", type=int, default=16, help="episodes per search round (default 16)")
    parser.add_argument("--seed", type=int, default=0, help="search seed")
    parser.add_argument("--max-steps", type=int, default=None, help="time limit per episode (default: the world's)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--quiet", action="store_true", help="no summary")


def run(args: argparse.Namespace) -> int:
    catalogue = search_failures(args.world, args.policy, host_of(args), budget=args.budget, population=args.population,
                                seed=args.seed, max_steps=args.max_steps, workers=args.workers,
                                policy_options=policy_options(args.policy_option))
    if not catalogue.entries:  # nothing to replay: say so, and write no catalogue that replays nothing
        Console().print(f"no failures of {args.policy} in {catalogue.search['evaluated']} episodes; "
                        f"{args.out} not written (raise --budget, or search a weaker policy)", markup=False, highlight=False)
        return 0
    catalogue.save(args.out)
    if not args.quiet:
        rounds = ", ".join(f"{r['failures']}/{r['episodes']}" for r in catalogue.search["rounds"])
        Console().print(f"{len(catalogue.entries)} failing scenarios of {catalogue.search['evaluated']} episodes "
                        f"(per round: {rounds}) written to {args.out}; replay with "
                        f"`tutelage generate {args.world} --policy {args.policy} --scenarios {args.out} ...`",
                        markup=False, highlight=False)
    return 0
