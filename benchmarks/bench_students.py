"""Students that earn their results: DAgger against the expert and against BC at equal budgets, over seeds.

    python benchmarks/bench_students.py train --world tutelage/Driving-v0 --seed 0 --out students   # one seed
    python benchmarks/bench_students.py expert --world tutelage/Driving-v0 --out students            # the teacher
    python benchmarks/bench_students.py report --out students                                       # the tables

``train`` runs one training seed: DAgger (``--rounds`` × ``--episodes-per-round``
training episodes, β falling linearly to 0 over ``--rampdown`` rounds) and
behavior cloning on the *same number of expert labels* (expert-driven
episodes on the same training seeds, cut to DAgger's label count) trained for
the *same number of gradient steps* (batch 64). Training samples only
in-distribution scenarios (:meth:`ScenarioSampler.in_distribution`: no
held-out edge case or combination). Both students are evaluated on the same
``--episodes`` held-out in-distribution scenarios (seeds disjoint from
training, ``--edge-case-fraction`` of them in-distribution edge cases) and,
with ``--held-out-episodes``, on the world's held-out combination. ``expert``
evaluates the teacher on the same scenarios. ``report`` pools the seeds:
Wilson intervals per policy, the mean over seeds with a Student-t interval
(clipped to the possible range), DAgger − BC (Newcombe) and DAgger's paired
win rate over BC.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import time
from pathlib import Path

import numpy as np

import tutelage.worlds  # noqa: F401  (registers the worlds with Gymnasium)
from tutelage.fileio import write_text
from tutelage.methods.bc import behavior_cloning
from tutelage.methods.dagger import collect, dagger
from tutelage.methods.evaluate import evaluate
from tutelage.methods.schedules import LinearBetaSchedule
from tutelage.plugins import registry
from tutelage.rollouts.plan import EpisodePlanner, episode_seeds
from tutelage.rollouts.rollout import make_env
from tutelage.sim.scenarios import ScenarioSampler
from tutelage.sim.spaces import io_sizes
from tutelage.stats import difference_of_proportions, mean_interval, paired_win_rate, wilson

BATCH = 64
EVAL_SEEDS = {"test": 0, "validation": 1}  # every policy meets the same held-out scenarios of a split


def held_out_combination(sampler: ScenarioSampler) -> str | None:
    """The world's held-out combination with the most parts (the seed's edge case for driving)."""
    combos = [combo for combo in sampler.combos if sampler.is_held_out(combo)]
    return max(combos, key=lambda c: c.count("+"), default=None)


def evaluations(policy, world: str, sampler: ScenarioSampler, args) -> dict[str, list[bool]]:
    """Successes per episode: in-distribution held-out scenarios, and the held-out combination."""
    train, eval_seed = sampler.in_distribution(), EVAL_SEEDS[args.split]
    out = {"in-distribution": [r["success"] for r in evaluate(
        policy, world, episodes=args.episodes, seed=eval_seed, edge_case_fraction=args.edge_case_fraction,
        sampler=train, quiet=True).episodes]}
    combo = held_out_combination(sampler)
    if combo and args.held_out_episodes:
        scenarios = [sampler.sample(np.random.default_rng(episode_seeds(eval_seed, i, "held-out").scenario), combo)
                     for i in range(args.held_out_episodes)]
        out[combo] = [r["success"] for r in evaluate(policy, world, scenarios=scenarios, seed=eval_seed, quiet=True).episodes]
    return out


def student_builder(world: str, args):
    """Fresh students of the same size and seed, for DAgger and for BC."""
    mlp = registry("model_types").get("mlp")
    inputs, outputs = io_sizes(world)
    return lambda: mlp.build((inputs,), outputs, seed=args.seed, hidden=tuple(args.hidden), activation="tanh")


def train_dagger(world: str, expert, sampler: ScenarioSampler, args) -> tuple[object, dict]:
    """The DAgger student for ``args.seed``, and its budget (labels, gradient steps, seconds, rounds)."""
    started = time.perf_counter()
    student, derivation = dagger(
        world, expert, student_builder(world, args)(), rounds=args.rounds, episodes_per_round=args.episodes_per_round,
        seed=args.seed, beta_schedule=LinearBetaSchedule(args.rampdown), edge_case_fraction=args.edge_case_fraction,
        sampler=sampler.in_distribution(), epochs=args.epochs, batch_size=BATCH, standardize=True, quiet=True,
        labels_per_episode=args.labels_per_episode, keep=args.keep,
    )
    return student, {
        "labels": {"dagger": derivation.metrics["samples"]},
        "gradient_steps": {"dagger": sum(args.epochs * math.ceil(r["samples"] / BATCH) for r in derivation.history)},
        "seconds": {"dagger": time.perf_counter() - started},
        "dagger_rounds": [{k: r[k] for k in ("round", "beta", "samples", "success_rate")} for r in derivation.history],
        "dagger_kept_round": derivation.metrics.get("kept_round"),
    }


def train_bc(world: str, expert, sampler: ScenarioSampler, budgets: dict, args) -> object:
    """The BC control at DAgger's budget: as many expert labels, as many gradient steps (``budgets`` gains BC's)."""
    started = time.perf_counter()
    labels, steps = budgets["labels"]["dagger"], budgets["gradient_steps"]["dagger"]
    X, Y = expert_labels(world, expert, labels, sampler.in_distribution(), args)
    epochs = max(1, round(steps / math.ceil(labels / BATCH)))
    student, _ = behavior_cloning(student_builder(world, args)(), (X, Y), teacher=expert.name, quiet=True,
                                  seed=args.seed, epochs=epochs, batch_size=BATCH, standardize=True)
    budgets["labels"]["bc"] = len(X)
    budgets["gradient_steps"]["bc"] = epochs * math.ceil(len(X) / BATCH)
    budgets["seconds"]["bc"] = time.perf_counter() - started
    return student


def expert_labels(world: str, expert, labels: int, sampler: ScenarioSampler, args) -> tuple[np.ndarray, np.ndarray]:
    """The first ``labels`` states of expert-driven episodes on the training seeds DAgger used (and on)."""
    X, Y, start = [], [], 0
    planner = EpisodePlanner(sampler, edge_case_fraction=args.edge_case_fraction)
    with contextlib.closing(make_env(world)) as env:
        while sum(len(x) for x in X) < labels:
            x, y, _ = collect(env, expert, planner.plans(args.seed, args.episodes_per_round, start=start))
            X.append(x)
            Y.append(y)
            start += args.episodes_per_round
    return np.concatenate(X)[:labels], np.concatenate(Y)[:labels]


def command_train(args) -> None:
    """DAgger, evaluated and saved; then (unless ``--dagger-only``) the BC control, evaluated and saved again."""
    world, sampler = args.world, ScenarioSampler.for_world(args.world)
    expert = registry("teachers").get(registry("worlds").get(world).expert)()
    started = time.perf_counter()
    student, budgets = train_dagger(world, expert, sampler, args)
    record = {"world": world, "seed": args.seed, "settings": vars(args) | {"func": None}, "budgets": budgets,
              "results": {"dagger": evaluations(student, world, sampler, args)}}
    save(args, f"{slug(world)}-seed{args.seed}.json", record | {"seconds": time.perf_counter() - started})
    if not args.dagger_only:
        record["results"]["bc"] = evaluations(train_bc(world, expert, sampler, budgets, args), world, sampler, args)
        save(args, f"{slug(world)}-seed{args.seed}.json", record | {"seconds": time.perf_counter() - started})
    print(json.dumps({k: record[k] for k in ("world", "seed", "budgets")}, indent=1, default=str))
    for name, result in record["results"].items():
        for split, successes in result.items():
            print(f"{name:7s} {split:45s} {wilson(sum(successes), len(successes)).percent()}")


def command_expert(args) -> None:
    world, sampler = args.world, ScenarioSampler.for_world(args.world)
    expert = registry("teachers").get(registry("worlds").get(world).expert)()
    results = evaluations(expert, world, sampler, args)
    save(args, f"{slug(world)}-expert.json", {"world": world, "settings": vars(args) | {"func": None}, "results": results})
    for split, successes in results.items():
        print(f"expert {split:45s} {wilson(sum(successes), len(successes)).percent()}")


def command_report(args) -> None:
    out = Path(args.out)
    for expert_file in sorted(out.glob("*-expert.json")):
        expert = json.loads(expert_file.read_text())
        runs = [json.loads(p.read_text()) for p in sorted(out.glob(expert_file.name.replace("-expert", "-seed*")))]
        print(f"\n### {expert['world']}: {len(runs)} training seeds ({', '.join(str(r['seed']) for r in runs)})\n")
        if not runs:
            continue
        budgets = runs[0]["budgets"]
        print(f"per seed: expert labels DAgger {budgets['labels']['dagger']:,}, BC {budgets['labels'].get('bc', 0):,}; "
              f"gradient steps DAgger {budgets['gradient_steps']['dagger']:,}, BC "
              f"{budgets['gradient_steps'].get('bc', 0):,} (seed {runs[0]['seed']})\n")
        for split, expert_successes in expert["results"].items():
            reference = wilson(sum(expert_successes), len(expert_successes))
            print(f"{split}: expert {reference.percent()}\n")
            print("| policy | pooled success (Wilson) | mean over seeds (t) | of expert | per seed |\n|---|---|---|---|---|")
            per_seed = {}
            for name in ("dagger", "bc"):
                rates = [np.mean(r["results"][name][split]) for r in runs if split in r["results"].get(name, {})]
                pooled = sum((r["results"][name][split] for r in runs if split in r["results"].get(name, {})), [])
                per_seed[name] = pooled
                if not pooled:
                    continue
                mean = mean_interval(rates)
                print(f"| {name} | {wilson(sum(pooled), len(pooled)).percent()} | {100 * mean.estimate:.1f} % "
                      f"[{100 * max(mean.low, 0.0):.1f}, {100 * min(mean.high, 1.0):.1f}] | "
                      f"{100 * mean.estimate / reference.estimate:.1f} % | "
                      + ", ".join(f"{100 * x:.1f}" for x in rates) + " |")
            a, b = per_seed["dagger"], per_seed["bc"]
            if a and len(a) == len(b):
                difference = difference_of_proportions(sum(a), len(a), sum(b), len(b))
                wins = sum(x and not y for x, y in zip(a, b))
                losses = sum(y and not x for x, y in zip(a, b))
                seeds = mean_interval([np.mean(r["results"]["dagger"][split]) - np.mean(r["results"]["bc"][split])
                                       for r in runs if "bc" in r["results"]])
                print(f"\nDAgger − BC: pooled {100 * difference.estimate:+.1f} points [{100 * difference.low:+.1f}, "
                      f"{100 * difference.high:+.1f}] (Newcombe, n={len(a)} each); over seeds {100 * seeds.estimate:+.1f} "
                      f"[{100 * max(seeds.low, -1.0):+.1f}, {100 * min(seeds.high, 1.0):+.1f}] (t, {seeds.n} seeds); paired by scenario: DAgger "
                      f"alone succeeds {wins}, BC alone {losses}, win rate {paired_win_rate(wins, losses, len(a) - wins - losses).percent()}\n")


def slug(world: str) -> str:
    return world.split("/")[-1].lower()


def save(args, name: str, record: dict) -> None:
    path = Path(args.out) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(record, indent=1, default=str))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True)
    for name, func in (("train", command_train), ("expert", command_expert), ("report", command_report)):
        sub = commands.add_parser(name)
        sub.set_defaults(func=func)
        sub.add_argument("--out", default="students", help="folder of the per-seed result files")
        if name == "report":
            continue
        sub.add_argument("--world", default="tutelage/Driving-v0")
        sub.add_argument("--episodes", type=int, default=120, help="held-out in-distribution evaluation episodes")
        sub.add_argument("--held-out-episodes", type=int, default=50, help="episodes of the held-out combination")
        sub.add_argument("--edge-case-fraction", type=float, default=0.3)
        sub.add_argument("--split", choices=tuple(EVAL_SEEDS), default="test",
                         help="held-out scenarios to evaluate on: validation (choosing settings) or test (once)")
        if name == "train":
            sub.add_argument("--seed", type=int, default=0)
            sub.add_argument("--rounds", type=int, default=8)
            sub.add_argument("--episodes-per-round", type=int, default=12)
            sub.add_argument("--rampdown", type=int, default=4, help="rounds over which β falls from 1 to 0")
            sub.add_argument("--epochs", type=int, default=30)
            sub.add_argument("--hidden", type=int, nargs="+", default=[64, 64], help="the students' hidden layers")
            sub.add_argument("--labels-per-episode", type=int, default=None,
                             help="DAgger keeps at most this many labelled states of an episode, evenly spaced")
            sub.add_argument("--keep", choices=("last", "best"), default="last",
                             help="DAgger returns the last student or the one that did best driving alone")
            sub.add_argument("--dagger-only", action="store_true", help="skip the BC control (validation runs)")
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
