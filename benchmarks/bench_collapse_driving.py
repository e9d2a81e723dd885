"""Driving self-training, measured: a competent student cloned from expert data, then generation after generation
from its predecessor's rollouts (``replace``) or with a share of fresh expert episodes (``fresh=λ``).

One process per seed writes ``OUT/seed<k>.json``; ``report`` pools them: success (Wilson, pooled over seeds and
episodes), episodes with a collision (Wilson), collisions per episode (mean over seeds, t interval) per generation
and regime, and the last generation's differences (Newcombe) between the regimes and against generation 0.

    for s in 0 1 2; do python benchmarks/bench_collapse_driving.py run --seed $s --out drv & done; wait
    python benchmarks/bench_collapse_driving.py report --out drv
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import tutelage.worlds  # noqa: F401  (registers the worlds)
from tutelage.methods.collapse_driving import self_training
from tutelage.plugins import get_host
from tutelage.runs.spec import build_sampler
from tutelage.sim.spaces import io_sizes
from tutelage.stats import difference_of_proportions, mean_interval, wilson

WORLD = "tutelage/Driving-v0"
#: short roads with light traffic, as in sims/collapse.toml: the expert finishes them within 500 steps
SCENARIOS = {"parameters": {"road_length": {"low": 14.0, "high": 16.0}, "pedestrian_count": {"low": 0, "high": 1},
                            "traffic_count": {"low": 0, "high": 1}}}


def run(args: argparse.Namespace) -> None:
    host = get_host()
    inputs, outputs = io_sizes(WORLD)
    mlp = host.registry("model_types").get("mlp")
    hidden = tuple(args.hidden)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        rows = self_training(
            WORLD, lambda seed: mlp.build((inputs,), outputs, seed=seed, hidden=hidden, output_activation="tanh"),
            Path(folder), regimes=args.regimes.split(","), generations=args.generations, seeds=[args.seed],
            episodes=args.episodes, expert_episodes=args.expert_episodes, eval_episodes=args.eval_episodes,
            max_steps=500, epochs=args.epochs, host=host, sampler=build_sampler(WORLD, SCENARIOS, "benchmark"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"seed{args.seed}.json").write_text(json.dumps({"settings": vars(args), "rows": rows,
                                                         "seconds": time.perf_counter() - started}, indent=1))


def report(args: argparse.Namespace) -> None:
    files = sorted(Path(args.out).glob("seed*.json"))
    loaded = [json.loads(f.read_text()) for f in files]
    rows = [r for item in loaded for r in item["rows"]]
    walls = ", ".join(f"{item['seconds']:.0f} s" for item in loaded)
    print(f"{len(files)} seeds; settings {loaded[0]['settings']}; wall per seed {walls}")
    regimes = sorted({r["regime"] for r in rows}, key=lambda name: name != "replace")
    last = max(r["generation"] for r in rows)

    def pooled(regime: str, g: int, key: str) -> tuple[int, int]:
        chosen = [r for r in rows if r["regime"] == regime and r["generation"] == g]
        return sum(r[key] for r in chosen), sum(r["episodes"] for r in chosen)

    print("| generation | depth | " + " | ".join(f"{r}: success | {r}: episodes with a collision | {r}: collisions/ep"
                                                 for r in regimes) + " |")
    for g in range(last + 1):
        cells = []
        for regime in regimes:
            chosen = [r for r in rows if r["regime"] == regime and r["generation"] == g]
            (s, n), (c, _) = pooled(regime, g, "successes"), pooled(regime, g, "collided")
            per_episode = mean_interval([r["collisions"] for r in chosen])
            cells += [f"{s}/{n} = {wilson(s, n)}", f"{c}/{n} = {wilson(c, n)}", str(per_episode)]
        depth = max(r["synthetic_depth"] for r in rows if r["generation"] == g)
        print(f"| {g} | {depth} | " + " | ".join(cells) + " |")
    for regime in regimes:
        (s0, n0), (s, n) = pooled(regime, 0, "successes"), pooled(regime, last, "successes")
        (c0, _), (c, _) = pooled(regime, 0, "collided"), pooled(regime, last, "collided")
        print(f"{regime}: generation {last} − 0: success {difference_of_proportions(s, n, s0, n0)}, "
              f"episodes with a collision {difference_of_proportions(c, n, c0, n0)}")
    if len(regimes) == 2:
        (a, na), (b, nb) = pooled(regimes[1], last, "successes"), pooled(regimes[0], last, "successes")
        print(f"generation {last}, {regimes[1]} − {regimes[0]}: success {difference_of_proportions(a, na, b, nb)}")
        (a, na), (b, nb) = pooled(regimes[1], last, "collided"), pooled(regimes[0], last, "collided")
        print(f"generation {last}, {regimes[1]} − {regimes[0]}: episodes with a collision "
              f"{difference_of_proportions(a, na, b, nb)}")
    distance = {regime: [r["distance_m"] for r in rows if r["regime"] == regime and r["generation"] == last]
                for regime in regimes}
    print("metres driven at the last generation: " + "; ".join(f"{k} {mean_interval(v)}" for k, v in distance.items()))
    print("data share by generation: " + "; ".join(
        f"{regime} " + ", ".join(f"{np.mean([r['synthetic_share'] for r in rows if r['regime'] == regime and r['generation'] == g]):.2f}"
                                 for g in range(last + 1)) for regime in regimes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("run", "report"))
    parser.add_argument("--out", default="collapse-driving")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--regimes", default="replace,fresh=0.25")
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--expert-episodes", type=int, default=40, help="expert episodes generation 0 clones")
    parser.add_argument("--episodes", type=int, default=40, help="rollouts of the predecessor per generation")
    parser.add_argument("--eval-episodes", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 64])
    args = parser.parse_args()
    run(args) if args.command == "run" else report(args)


if __name__ == "__main__":
    main()
