"""Camera student: a CNN on grey camera frames + speed, taught by the privileged expert with DAgger, over seeds.

    python benchmarks/bench_vision.py train --seed 0 --out vision      # one training seed (camera + sensor-only)
    python benchmarks/bench_vision.py expert --out vision              # the teacher on the same scenarios
    python benchmarks/bench_vision.py report --out vision              # the table
    python benchmarks/bench_vision.py speed                            # camera cost per step; core vs PyTorch CNN

``train`` runs one training seed: DAgger in ``tutelage/DrivingCamera-v0``
(the student sees a 32 × 24 grey frame and the odometry's speed; the expert
labels every ``--label-every``-th state, i.e. each new frame) and, as a
control, the sensor-only MLP student (lane estimates + lidar, standardized)
by DAgger in ``tutelage/Driving-v0`` with the same rounds and episodes. Both
are evaluated on the same ``--episodes`` held-out in-distribution scenarios
(no edge cases; seeds disjoint from training): ``--split validation`` for
choosing settings, ``--split test`` once for the figures. ``report`` pools
the seeds: Wilson intervals, the mean over seeds with a Student-t interval,
the camera student's share of the expert's success and camera − expert
(Newcombe).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from collections import Counter

import tutelage.worlds  # noqa: F401  (registers the worlds with Gymnasium)
from tutelage import nn
from tutelage.fileio import write_text
from tutelage.methods.dagger import dagger
from tutelage.methods.evaluate import evaluate
from tutelage.plugins import registry
from tutelage.sim.spaces import io_sizes
from tutelage.stats import difference_of_proportions, mean_interval, wilson

CAMERA, SENSORS = "tutelage/DrivingCamera-v0", "tutelage/Driving-v0"
EVAL_SEEDS = {"validation": 1, "test": 0}  # held-out split seeds: settings chosen on one, figures from the other
POLICIES = ("camera", "sensors")


def expert():
    return registry("teachers").get(registry("worlds").get(CAMERA).expert)()


def outcomes(policy, world: str, args) -> list[str]:
    """How each held-out episode ended: success, collision, off-road or time-out."""
    result = evaluate(policy, world, episodes=args.episodes, seed=EVAL_SEEDS[args.split], edge_case_fraction=0.0, quiet=True)
    return ["success" if r["success"] else "collision" if r["collision"] else "off-road" if r["off_road"] else "time-out"
            for r in result.episodes]


def won(ends: list) -> list[bool]:
    """Successes from episode ends (older files hold booleans)."""
    return [end is True or end == "success" for end in ends]


def camera_student(seed: int, args):
    inputs, outputs = io_sizes(CAMERA)
    return registry("model_types").get("cnn").build(
        (inputs,), outputs, seed=seed, image=[1, 24, 32], scale=1 / 255, channels=args.channels, hidden=args.hidden,
        output_activation="tanh")


def sensor_student(seed: int, args):
    inputs, outputs = io_sizes(SENSORS)
    return registry("model_types").get("mlp").build((inputs,), outputs, seed=seed, hidden=(64, 64), output_activation="tanh")


def train_one(world: str, student, args, **options) -> tuple[object, dict]:
    started = time.perf_counter()
    student, derivation = dagger(
        world, expert(), student, rounds=args.rounds, episodes_per_round=args.episodes_per_round, seed=args.seed,
        edge_case_fraction=0.0, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, quiet=True, **options)
    budget = {"labels": derivation.metrics["samples"], "train_seconds": time.perf_counter() - started,
              "rounds": [{k: r[k] for k in ("round", "beta", "samples", "success_rate")} for r in derivation.history]}
    return student, budget


def command_train(args) -> None:
    students = {"camera": (CAMERA, camera_student, {"label_every": args.label_every}),
                "sensors": (SENSORS, sensor_student, {"standardize": True})}
    path = Path(args.out) / f"{args.split}-seed{args.seed}.json"
    record = json.loads(path.read_text()) if path.is_file() else {"seed": args.seed, "split": args.split, "budgets": {},
                                                                 "results": {}}
    for name in args.students:
        world, build, options = students[name]
        student = build(args.seed, args)
        record.setdefault("settings", {})[name] = {k: v for k, v in vars(args).items() if k != "func"}
        trained, record["budgets"][name] = train_one(world, student, args, **options)
        started = time.perf_counter()
        record["results"][name] = outcomes(trained, world, args)
        record["budgets"][name]["eval_seconds"] = time.perf_counter() - started
        if name == "camera":
            record["budgets"][name]["n_params"] = int(trained.n_params)
            nn.save(trained, Path(args.out) / f"{args.split}-seed{args.seed}-camera.safetensors")
        s = won(record["results"][name])
        print(f"seed {args.seed} {name:8s} {wilson(sum(s), len(s)).percent()}  "
              f"({record['budgets'][name]['labels']:,} labels, {record['budgets'][name]['train_seconds']:.0f} s training)",
              flush=True)
        save(args, f"{args.split}-seed{args.seed}.json", record)  # after each student: a slow control loses nothing


def command_expert(args) -> None:
    s = won(outcomes(expert(), CAMERA, args))
    save(args, f"{args.split}-expert.json", {"split": args.split, "episodes": args.episodes, "results": s})
    print(f"expert {wilson(sum(s), len(s)).percent()}")


def command_report(args) -> None:
    out = Path(args.out)
    reference = won(json.loads((out / f"{args.split}-expert.json").read_text())["results"])
    runs = [json.loads(p.read_text()) for p in sorted(out.glob(f"{args.split}-seed*.json"))]
    reference = reference[:min((len(r["results"]["camera"]) for r in runs), default=len(reference))]  # same scenarios
    expert_rate = wilson(sum(reference), len(reference))
    print(f"{args.split} split, {len(reference)} held-out in-distribution scenarios, {len(runs)} training seeds "
          f"({', '.join(str(r['seed']) for r in runs)})\n")
    print("| policy | pooled success (Wilson 95 %) | mean over seeds (t 95 %) | of expert | per seed | labels / seed "
          "| training s / seed | failures |\n|---|---|---|---|---|---|---|---|")
    print(f"| privileged expert | {expert_rate.percent()} | | 100 % | | | | |")
    for name in POLICIES:
        done = [r for r in runs if name in r["results"]]
        if not done:
            continue
        rates = [float(np.mean(won(r["results"][name]))) for r in done]
        pooled = sum((won(r["results"][name]) for r in done), [])
        ends = Counter(sum((r["results"][name] for r in done), []))
        mean = mean_interval(rates)
        labels = np.mean([r["budgets"][name]["labels"] for r in done])
        seconds = np.mean([r["budgets"][name]["train_seconds"] for r in done])
        print(f"| {name} student | {wilson(sum(pooled), len(pooled)).percent()} | {100 * mean.estimate:.1f} % "
              f"[{100 * max(mean.low, 0.0):.1f}, {100 * min(mean.high, 1.0):.1f}] | "
              f"{100 * mean.estimate / max(expert_rate.estimate, 1e-9):.1f} % | "
              f"{', '.join(f'{100 * x:.1f}' for x in rates)} | {labels:,.0f} | {seconds:.0f} | "
              f"{', '.join(f'{k} {v}' for k, v in sorted(ends.items()) if k != 'success') or '-'} |")
    camera = sum((won(r["results"]["camera"]) for r in runs), [])
    if camera:
        gap = difference_of_proportions(sum(camera), len(camera), sum(reference), len(reference))
        share = mean_interval([float(np.mean(won(r["results"]["camera"]))) / max(expert_rate.estimate, 1e-9) for r in runs])
        print(f"\ncamera − expert: {100 * gap.estimate:+.1f} points [{100 * gap.low:+.1f}, {100 * gap.high:+.1f}] "
              f"(Newcombe, pooled); camera / expert over seeds {100 * share.estimate:.1f} % "
              f"[{100 * share.low:.1f}, {100 * share.high:.1f}] (t); target >= 80 %: "
              f"{'met' if share.estimate >= 0.8 else 'MISSED'}")


def command_speed(args) -> None:
    """Per-step cost of the camera world against the sensor world, and one CNN training epoch: core vs PyTorch."""
    import gymnasium
    import torch

    for world in (SENSORS, CAMERA):
        env = gymnasium.make(world)
        env.reset(seed=0)
        started = time.perf_counter()
        for _ in range(args.steps):
            env.step(np.array([0.0, 0.3], np.float32))
        print(f"{world}: {1e3 * (time.perf_counter() - started) / args.steps:.2f} ms per step")
        env.close()
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (args.samples, 769)).astype(np.float32)
    Y = rng.uniform(-1, 1, (args.samples, 2)).astype(np.float32)
    from tutelage.methods.bc import train_supervised

    core = []
    for _ in range(3):
        started = time.perf_counter()
        train_supervised(camera_student(0, args), X, Y, epochs=1, batch_size=args.batch_size, lr=args.lr)
        core.append(time.perf_counter() - started)
    torch.set_num_threads(1)
    c1, c2 = args.channels
    net = torch.nn.Sequential(
        torch.nn.Conv2d(2, c1, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(c1, c2, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(c2 * 6 * 8, args.hidden), torch.nn.ReLU(), torch.nn.Linear(args.hidden, 2), torch.nn.Tanh())
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
    images = torch.from_numpy(np.concatenate([X[:, :768].reshape(-1, 1, 24, 32) / 255,
                                              np.broadcast_to(X[:, 768:, None, None], (len(X), 1, 24, 32))], axis=1).astype(np.float32))
    targets = torch.from_numpy(Y)
    reference = []
    for _ in range(3):
        started = time.perf_counter()
        for i in torch.randperm(len(X)).split(args.batch_size):
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(net(images[i]), targets[i]).backward()
            optimizer.step()
        reference.append(time.perf_counter() - started)
    ours, theirs = float(np.median(core)), float(np.median(reference))
    print(f"one epoch of {args.samples:,} frames, batch {args.batch_size}: core {ours:.2f} s, PyTorch (1 thread) "
          f"{theirs:.2f} s, core / PyTorch {ours / theirs:.2f}× the time (medians of 3)")


def save(args, name: str, record: dict) -> None:
    path = Path(args.out) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(record, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True)
    for name, func in (("train", command_train), ("expert", command_expert), ("report", command_report),
                       ("speed", command_speed)):
        sub = commands.add_parser(name)
        sub.set_defaults(func=func)
        sub.add_argument("--out", default="vision", help="folder of the per-seed result files")
        sub.add_argument("--split", choices=sorted(EVAL_SEEDS), default="test")
        sub.add_argument("--episodes", type=int, default=60, help="held-out in-distribution evaluation episodes")
        sub.add_argument("--channels", type=int, nargs=2, default=[4, 8])
        sub.add_argument("--hidden", type=int, default=32)
        sub.add_argument("--batch-size", type=int, default=32)
        sub.add_argument("--lr", type=float, default=1e-3)
        sub.add_argument("--seed", type=int, default=0)
        sub.add_argument("--rounds", type=int, default=8)
        sub.add_argument("--episodes-per-round", type=int, default=6)
        sub.add_argument("--epochs", type=int, default=6)
        sub.add_argument("--label-every", type=int, default=5)
        sub.add_argument("--students", nargs="+", choices=POLICIES, default=list(POLICIES),
                         help="train: which students (the sensor-only MLP is the control)")
        sub.add_argument("--steps", type=int, default=300, help="speed: steps per world")
        sub.add_argument("--samples", type=int, default=2000, help="speed: frames in the training epoch")
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
