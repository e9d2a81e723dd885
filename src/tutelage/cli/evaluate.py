"""``tutelage evaluate``: teachers and models on the same held-out episodes of a world, in one table."""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from tutelage.cli import host_of
from tutelage.errors import ModelFileError, SpecError
from tutelage.rollouts.generate import BACKENDS

NAME = "evaluate"
HELP = "evaluate models and teachers on the same held-out episodes of a world (success with 95-percent intervals)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policies", nargs="+", metavar="MODEL|TEACHER",
                        help="model files (.safetensors), teacher names, 'expert' (the world's teacher) or 'random'")
    parser.add_argument("--world", required=True, help="a tutelage world, e.g. tutelage/Driving-v0")
    parser.add_argument("--episodes", type=int, default=40, help="held-out episodes per policy (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="evaluation seed: every policy meets the same episodes")
    parser.add_argument("--workers", type=int, default=1, help="worker processes or Ray tasks (same results for any count)")
    parser.add_argument("--backend", choices=BACKENDS, default="process", help="worker processes or Ray tasks")
    parser.add_argument("--edge-case", action="append", default=[], metavar="NAME",
                        help="play every episode in this named edge case (e.g. ice, or 'ice + night'); repeatable, "
                             "the episodes cycle through the names")
    parser.add_argument("--edge-case-fraction", type=float, default=0.2, metavar="F",
                        help="without --edge-case: share of episodes in a named edge case (default 0.2)")
    parser.add_argument("--max-steps", type=int, default=None, help="time limit per episode (default: the world's)")
    parser.add_argument("--report", metavar="DIR", help="also write report.html (table, success by edge case) into DIR")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def check_arguments(args: argparse.Namespace) -> None:
    if args.episodes < 1:
        raise SpecError(f"--episodes: must be at least 1, got {args.episodes}")
    if args.workers < 1:
        raise SpecError(f"--workers: must be at least 1, got {args.workers}")
    if args.max_steps is not None and args.max_steps < 1:
        raise SpecError(f"--max-steps: must be at least 1, got {args.max_steps}")
    if not 0.0 <= args.edge_case_fraction <= 1.0:
        raise SpecError(f"--edge-case-fraction: must lie in [0, 1], got {args.edge_case_fraction}")
    if len(set(args.policies)) != len(args.policies):
        raise SpecError("MODEL|TEACHER: a policy is named twice")


def policy_label(name: str) -> str:
    """How a policy is named in the table: a model by its file's stem, a teacher by its name."""
    return Path(name).name.removesuffix(".safetensors") if name.endswith(".safetensors") else name


def edge_case_scenarios(world: str, names: list[str], episodes: int, seed: int) -> list[dict[str, Any]]:
    """``episodes`` scenarios cycling through the edge cases ``names`` (each name checked first)."""
    import numpy as np

    from tutelage.sim.scenarios import sampler_for

    sampler = sampler_for(world)
    if sampler is None:
        raise SpecError(f"--edge-case: world {world!r} declares no scenarios")
    for name in names:
        sampler.split_edge_case(name)  # unknown names: one error with the known ones
    rng = np.random.default_rng([seed, 1])
    return [sampler.sample(rng, edge_case=names[i % len(names)]) for i in range(episodes)]


def evaluate_all(args: argparse.Namespace) -> dict[str, Any]:
    """The summary of every policy, shaped like a run's summary (``policies``: label → metrics)."""
    from tutelage.methods.evaluate import evaluate
    from tutelage.rollouts.policy import resolve_policy
    from tutelage.rollouts.rollout import check_world

    host = host_of(args)
    check_world(args.world)
    specs = [resolve_policy(name, args.world, host) for name in args.policies]  # every name checked before any work
    sizes = {spec.path: checked_model(spec.path, args.world) for spec in specs if spec.kind == "model"}
    labels = [policy_label(name) for name in args.policies]
    if len(set(labels)) != len(labels):
        labels = list(args.policies)
    scenarios = edge_case_scenarios(args.world, args.edge_case, args.episodes, args.seed) if args.edge_case else None
    policies = {}
    for label, spec in zip(labels, specs):
        spec = dataclasses.replace(spec, name=label)  # progress bars name the policy as the table does
        result = evaluate(spec, args.world, episodes=args.episodes, seed=args.seed, scenarios=scenarios,
                          edge_case_fraction=args.edge_case_fraction, max_steps=args.max_steps, quiet=args.quiet,
                          workers=args.workers, backend=args.backend)
        metrics = {k: v for k, v in result.as_dict().items() if k != "per_episode"}
        metrics["role"] = "student" if spec.kind == "model" else "teacher" if spec.kind == "teacher" else "baseline"
        if spec.kind == "model":
            metrics.update(model_id=spec.model_id, n_params=sizes[spec.path])
        if scenarios:
            metrics["by_edge_case"] = by_named_case(result.episodes, args.edge_case)
        policies[label] = metrics
    return {"name": f"evaluate on {args.world}", "world": args.world, "seed": args.seed,
            "episodes": args.episodes, "edge_cases": args.edge_case, "policies": policies}


def by_named_case(records: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """Success per asked-for edge case, the episodes taken in the order they cycled through ``names``."""
    from tutelage.methods.evaluate import summarize

    return {name: summarize([r for i, r in enumerate(records) if i % len(names) == k])
            for k, name in enumerate(names)}


def checked_model(path: str, world: str) -> int:
    """The parameter count of the model at ``path``, once its input and output sizes are checked against
    the world's observation and action."""
    import numpy as np

    from tutelage import nn
    from tutelage.sim.spaces import io_sizes

    model = nn.load(path)
    inputs, outputs = io_sizes(world)
    got = (int(np.prod(model.input_shape)), int(np.prod(model.output_shape)))
    if got != (inputs, outputs):
        raise ModelFileError(f"{path}: the model maps {got[0]} inputs to {got[1]} outputs; {world} needs "
                             f"{inputs} observation values to {outputs} action values")
    return int(model.n_params)


def run(args: argparse.Namespace) -> int:
    from tutelage.cli.run import print_table

    check_arguments(args)
    summary = evaluate_all(args)
    if args.report:
        from tutelage.runs.report import write_evaluation_report

        summary["report"] = str(write_evaluation_report(Path(args.report), summary))
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True, default=str))
        return 0
    console = Console(highlight=False)
    print_table(summary, console, title=f"{args.episodes} held-out episodes of {args.world} per policy")
    if "report" in summary:
        console.print(f"report: {summary['report']}", soft_wrap=True, markup=False)
    return 0
