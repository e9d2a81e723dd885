"""``tutelage critique``: a critic reviews a policy's every step against a constitution."""
from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from tutelage.cli import add_policy_arguments, host_of, policy_options
from tutelage.errors import SpecError

NAME = "critique"
HELP = "review a policy against a constitution; print violations per principle and write the records (Parquet)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_policy_arguments(parser, policy_help="expert, a teacher name, or a .safetensors model")
    parser.add_argument("--constitution", required=True, metavar="FILE",
                        help="a constitution file (.toml) or a packaged one: driving, arm")
    parser.add_argument("--critic", default="rules", metavar="NAME", help="rules (default), learned, or a plugin's critic")
    parser.add_argument("--critic-model", default=None, metavar="FILE", help="the learned critic's .safetensors")
    parser.add_argument("--out", default="critique", metavar="DIR",
                        help="records folder (default ./critique); an interrupted critique resumes there")
    parser.add_argument("--episodes", type=int, default=10, help="episodes (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="run seed of the episode plans")
    parser.add_argument("--split", choices=("held-out", "train"), default="held-out", help="seed range (default held-out)")
    parser.add_argument("--edge-case-fraction", type=float, default=0.2, help="share of named edge cases (default 0.2)")
    parser.add_argument("--passes", type=int, default=2, help="revision passes (default 2)")
    parser.add_argument("--max-steps", type=int, default=None, help="time limit per episode (default: the world's)")
    parser.add_argument("--action-filter", default=None, metavar="A[,A...]",
                        help="low-pass the policy's action: a_t = A * a_(t-1) + (1 - A) * policy; one weight in [0, 1) "
                             "or one per action dimension (default: none)")
    parser.add_argument("--action-filter-fall", default=None, metavar="A[,A...]",
                        help="the filter's weights while the action falls (default: those of --action-filter)")
    parser.add_argument("--quiet", action="store_true", help="no table")


def run(args: argparse.Namespace) -> int:
    from tutelage.constitution import load_constitution, rule_kinds
    from tutelage.methods.constitution import critique_episodes
    from tutelage.rollouts.lowpass import LowPassPolicy
    from tutelage.rollouts.plan import EpisodePlanner
    from tutelage.rollouts.policy import Policy, resolve_policy
    from tutelage.rollouts.rollout import check_world, make_env
    from tutelage.sim.scenarios import sampler_for
    from tutelage_plugins.critics.build import build_critic

    host = host_of(args)
    check_world(args.world)
    constitution = load_constitution(args.constitution, rule_kinds(host))
    critic = build_critic(host, args.critic, constitution, args.world, model=args.critic_model, passes=args.passes)
    spec = resolve_policy(args.policy, args.world, host, policy_options(args.policy_option))
    env = make_env(args.world, max_steps=args.max_steps)
    try:
        policy = Policy(spec, env)
    finally:
        env.close()
    policy_id = spec.model_id or spec.name
    if args.action_filter is not None:
        fall = args.action_filter_fall and action_filter_weights(args.action_filter_fall, "--action-filter-fall")
        policy = LowPassPolicy(policy, action_filter_weights(args.action_filter, "--action-filter"), fall)
        policy_id = f"{policy_id} {policy.label}"
    elif args.action_filter_fall is not None:
        raise SpecError("--action-filter-fall: needs --action-filter (the weights while the action rises)")
    planner = EpisodePlanner(sampler_for(args.world), edge_case_fraction=args.edge_case_fraction, split=args.split,
                             where="--edge-case-fraction")
    records = critique_episodes(args.world, policy, critic, constitution, planner.plans(args.seed, args.episodes), args.out,
                                policy_id=policy_id, max_steps=args.max_steps, quiet=args.quiet)
    if not args.quiet:
        print_summary(records.summary(examples=1), args.out)
    return 0


def action_filter_weights(text: str, option: str):
    """``--action-filter 0.9,0.95`` as checked weights."""
    from tutelage.rollouts.lowpass import filter_weights

    try:
        weights = [float(part) for part in text.split(",")]
    except ValueError:
        raise SpecError(f"{option}: expected numbers separated by commas, got {text!r}") from None
    return filter_weights(weights, where=option)


def print_summary(summary: dict, out: str) -> None:
    unit = summary["unit"]
    table = Table(title=f"{summary['constitution']}: {summary['episodes']} episodes, success {summary['success_rate']:.0%}")
    for column in ("principle", "steps", "violations", f"per {unit}", "revisions fixed"):
        table.add_column(column, no_wrap=True)
    for name, entry in summary["principles"].items():
        fixed = "-" if entry["fixed_share"] is None else f"{entry['fixed_share']:.0%}"
        table.add_row(name, str(entry["steps"]), str(entry["onsets"]), f"{entry['per_unit']:.1f}", fixed)
    console = Console()
    console.print(table)
    for name, entry in summary["principles"].items():
        for sentence in entry["examples"]:
            console.print(f"[bold]{name}[/]: {sentence}", highlight=False)
    console.print(f"severity-weighted violations per {unit}: {summary['weighted_per_unit']:.1f}; records in {out}/records")
