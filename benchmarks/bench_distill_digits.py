"""Knowledge distillation on scikit-learn's digits, after Hinton et al. (2015), plus the int8 teacher.

    python benchmarks/bench_distill_digits.py [--seeds 5] [--hidden 8]

Data: ``load_digits`` (pixels / 16), stratified 70/30 split (``random_state=0``).
Teacher: MLP 64→512→512→10 (ReLU, dropout 0.3), Adam, 80 epochs. Students: one
hidden layer of ``--hidden`` tanh units, Adam with a cosine schedule from 1e-2:

* baseline: hard labels of the training set only (150 epochs);
* distilled at T ∈ {1, 2, 4, 8, 20}, α = 0.9: the training set plus a transfer
  set of 4 noisy copies of it (Gaussian pixel noise σ = 0.1) labelled by the
  teacher's softened logits (30 epochs over the 5× larger set, the same steps);
* control: the same noisy transfer set with the hard labels of the image each
  copy came from (no teacher), to separate augmentation from soft targets.

Mean ± std over ``--seeds`` seeds. "Gap closed" is (distilled − baseline) /
(teacher − baseline) in accuracy. The int8 section quantizes the teacher and
the best student and times batch-1 inference (median of interleaved rounds).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from tutelage import nn
from tutelage.methods.kd import distill
from tutelage.nn.optim import cosine
from tutelage.nn.quantize import quantize
from tutelage.train import fit

TEMPERATURES = (1, 2, 4, 8, 20)
ALPHA, COPIES, NOISE, BATCH = 0.9, 4, 0.1, 32


def accuracy(model, X, y) -> float:
    return float(np.mean(np.asarray(model(X)).argmax(1) == y))


def student(hidden: int, seed: int) -> nn.Model:
    return nn.Sequential([nn.Dense(hidden), nn.Tanh(), nn.Dense(10)], input_shape=(64,), seed=seed)


def steps(n: int, epochs: int) -> int:
    return epochs * -(-n // BATCH)


def noisy_copies(X: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(1000 + seed)
    return np.clip(np.tile(X, (COPIES, 1)) + rng.normal(0, NOISE, (COPIES * len(X), X.shape[1])), 0, 1).astype(np.float32)


def batch1_us(models: dict, x: np.ndarray, rounds: int = 15, calls: int = 2000) -> dict[str, float]:
    """Median µs per batch-1 call; the models take turns in every round (same machine load)."""
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            start = time.perf_counter()
            for _ in range(calls):
                model(x)
            times[name].append((time.perf_counter() - start) / calls * 1e6)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=8)
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split((X / 16.0).astype(np.float32), y, test_size=0.3, random_state=0, stratify=y)

    started = time.perf_counter()
    teacher = nn.Sequential([nn.Dense(512), nn.ReLU(), nn.Dropout(0.3), nn.Dense(512), nn.ReLU(), nn.Dropout(0.3),
                             nn.Dense(10)], input_shape=(64,), seed=0)
    fit(teacher, Xtr, ytr, loss="cross_entropy", epochs=80, batch_size=64, lr=cosine(1e-3, steps(len(Xtr), 80) // 2),
        quiet=True)
    teacher_acc = accuracy(teacher, Xte, yte)
    print(f"digits: {len(Xtr)} train / {len(Xte)} test; teacher 64→512→512→10 ({teacher.n_params:,} params) "
          f"test accuracy {teacher_acc:.4f} (trained in {time.perf_counter() - started:.0f} s)")

    results: dict[str, list[float]] = {"baseline (hard labels)": [], "control (noisy copies, hard labels)": []}
    results.update({f"distilled T={t}": [] for t in TEMPERATURES})
    students = {}
    for seed in range(args.seeds):
        base = student(args.hidden, seed)
        fit(base, Xtr, ytr, loss="cross_entropy", epochs=150, batch_size=BATCH, lr=cosine(1e-2, steps(len(Xtr), 150)),
            seed=seed, quiet=True)
        results["baseline (hard labels)"].append(accuracy(base, Xte, yte))
        transfer = noisy_copies(Xtr, seed)
        n = len(Xtr) + len(transfer)
        control = student(args.hidden, seed)
        fit(control, np.concatenate([Xtr, transfer]), np.concatenate([ytr, np.tile(ytr, COPIES)]), loss="cross_entropy",
            epochs=30, batch_size=BATCH, lr=cosine(1e-2, steps(n, 30)), seed=seed, quiet=True)
        results["control (noisy copies, hard labels)"].append(accuracy(control, Xte, yte))
        for t in TEMPERATURES:
            model, _ = distill(teacher, Xtr, ytr, student(args.hidden, seed), temperature=t, alpha=ALPHA,
                               transfer=transfer, epochs=30, batch_size=BATCH, lr=cosine(1e-2, steps(n, 30)), seed=seed)
            results[f"distilled T={t}"].append(accuracy(model, Xte, yte))
            students[(t, seed)] = model

    base_mean = statistics.mean(results["baseline (hard labels)"])
    print(f"\nstudents: 64→{args.hidden}→10 tanh ({student(args.hidden, 0).n_params:,} params), "
          f"{args.seeds} seeds, test accuracy mean ± std, errors of {len(Xte)}")
    print("| student | accuracy | errors | gap closed |\n|---|---|---|---|")
    for name, accs in results.items():
        mean, std = statistics.mean(accs), statistics.pstdev(accs)
        gap = (mean - base_mean) / (teacher_acc - base_mean)
        print(f"| {name} | {100 * mean:.2f} ± {100 * std:.2f} % | {len(Xte) * (1 - mean):.1f} | {100 * gap:.0f} % |")
    print(f"| teacher | {100 * teacher_acc:.2f} % | {len(Xte) * (1 - teacher_acc):.0f} | |")
    best_t = max(TEMPERATURES, key=lambda t: statistics.mean(results[f"distilled T={t}"]))
    best = students[(best_t, 0)]

    with tempfile.TemporaryDirectory() as tmp:
        report_int8(teacher, best, best_t, Xte, yte, Path(tmp))


def report_int8(teacher: nn.Model, best: nn.Model, best_t: int, Xte: np.ndarray, yte: np.ndarray, tmp: Path) -> None:
    models = {"teacher float32": teacher, "teacher int8": quantize(teacher),
              f"student T={best_t} float32": best, f"student T={best_t} int8": quantize(best)}
    sizes = {}
    for name, model in models.items():
        path = tmp / f"{name.replace(' ', '_')}.safetensors"
        model.save(path) if hasattr(model, "save") else nn.save(model, path)
        sizes[name] = path.stat().st_size
    speed = batch1_us(models, Xte[0])
    accs = {name: accuracy(model, Xte, yte) for name, model in models.items()}
    print("\n| model | params | file bytes | test accuracy | batch-1 µs |\n|---|---|---|---|---|")
    for name, model in models.items():
        print(f"| {name} | {model.n_params:,} | {sizes[name]:,} | {100 * accs[name]:.2f} % | {speed[name]:.2f} |")
    for who in ("teacher", f"student T={best_t}"):
        f, q = f"{who} float32", f"{who} int8"
        print(f"{who}: int8 file {100 * sizes[q] / sizes[f]:.1f} % of float32; accuracy change "
              f"{100 * (accs[q] - accs[f]):+.2f} points; "
              f"int8 batch-1 {speed[f] / speed[q]:.2f}× the float32 speed")
    s = f"student T={best_t} float32"
    print(f"student/teacher: {100 * best.n_params / teacher.n_params:.2f} % of the parameters, "
          f"batch-1 {speed['teacher float32'] / speed[s]:.0f}× faster")


if __name__ == "__main__":
    main()
