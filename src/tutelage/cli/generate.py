"""``tutelage generate``: write a synthetic dataset of a world played by a policy."""
from __future__ import annotations

import argparse

from rich.console import Console

from tutelage.errors import SpecError
from tutelage.cli import add_policy_arguments, host_of, policy_options
from tutelage.rollouts.generate import BACKENDS, DEFAULT_EPISODES_PER_SHARD, generate
from tutelage.sim.scenarios import ScenarioSampler

NAME = "generate"
HELP = "generate a synthetic dataset (Parquet shards) from a world and a policy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tutelage.cli.models import add_registry_argument

    add_registry_argument(parser)
    add_policy_arguments(parser, world_help="Gymnasium id, e.g. tutelage/Driving-v0")
    parser.add_argument("--episodes", type=int, required=True, help="number of episodes")
    parser.add_argument("--out", required=True, metavar="DIR", help="dataset directory (rerun to resume)")
    parser.add_argument("--workers", type=int, default=1, help="parallel workers (default 1)")
    parser.add_argument("--backend", choices=BACKENDS, default="process", help="worker processes or Ray tasks")
    parser.add_argument("--ray-address", default=None, metavar="ADDR", help="Ray cluster to use (default: a local one)")
    parser.add_argument("--seed", type=int, default=0, help="run seed; every episode's seeds derive from it")
    parser.add_argument("--edge-case-fraction", type=float, default=0.0, metavar="F",
                        help="share of episodes drawn from a named edge case (default 0)")
    parser.add_argument("--episodes-per-shard", type=int, default=DEFAULT_EPISODES_PER_SHARD,
                        help=f"episodes per Parquet file (default {DEFAULT_EPISODES_PER_SHARD})")
    parser.add_argument("--max-steps", type=int, default=None, help="time limit per episode (default: the world's)")
    parser.add_argument("--scenarios", default=None, metavar="CATALOGUE",
                        help="replay the scenarios of a failure catalogue (from `tutelage failures`)")
    parser.add_argument("--scenario-file", default=None, metavar="TOML",
                        help="scenario ranges and edge cases replacing the world's (see sims/scenarios/)")
    parser.add_argument("--camera", action="store_true", help="store camera frames as PNG (observation.images.rgb)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def run(args: argparse.Namespace) -> int:
    sampler = ScenarioSampler.from_toml(args.scenario_file) if args.scenario_file else None
    if sampler is not None and sampler.world != args.world:
        raise SpecError(f"{args.scenario_file}: world: the scenarios are for {sampler.world!r}, not {args.world!r}")
    result = generate(
        args.world, args.policy, args.episodes, args.out, host=host_of(args), workers=args.workers, backend=args.backend,
        policy_options=policy_options(args.policy_option),
        seed=args.seed, edge_case_fraction=args.edge_case_fraction, episodes_per_shard=args.episodes_per_shard,
        camera=args.camera, max_steps=args.max_steps, scenarios=args.scenarios, ray_address=args.ray_address,
        progress=not args.quiet, sampler=sampler,
    )
    from tutelage.runs.registry import record_dataset_dir

    record_dataset_dir(result.path, args.registry)
    if not args.quiet:
        resumed = f", {result.resumed_shards} shard(s) already done" if result.resumed_shards else ""
        Console().print(
            f"wrote {result.episodes} episodes, {result.frames} frames in {result.shards} shard(s) to {result.path}"
            f"{resumed} ({result.seconds:.1f} s, {result.frames_per_second:.0f} frames/s, "
            f"synthetic share {result.synthetic_share:.2f})", markup=False, highlight=False,
        )
    return 0
