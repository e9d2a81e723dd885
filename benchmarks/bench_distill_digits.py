"""Knowledge distillation on scikit-learn's digits, after Hinton et al. (2015), plus the int8 teacher.

    python benchmarks/bench_distill_digits.py [--seeds 5] [--hidden 8]

Data: ``load_digits`` (pixels / 16), stratified 70/30 train/test split
(``random_state=0``); the training part is split again 80/20 into fit and
validation (stratified, ``random_state=0``). Everything learns from the fit
part only. Teacher: MLP 64→512→512→10 (ReLU, dropout 0.3), Adam, 80 epochs.
Students: one hidden layer of ``--hidden`` tanh units, Adam with a cosine
schedule from 1e-2:

* baseline: hard labels of the fit set only (150 epochs);
* control: the fit set plus a transfer set of 4 noisy copies of it (Gaussian
  pixel noise σ = 0.1) with the hard labels of the image each copy came from
  (no teacher; 30 epochs over the 5× larger set, the same steps);
* distilled: the same inputs, the transfer set labelled by the teacher's
  softened logits, α = 0.9, at T ∈ {1, 2, 4, 8, 20}.

The temperature is the one with the best mean *validation* accuracy over the
seeds; the test split is then used once, for the baseline, the control, the
distilled students at that temperature and the teacher. The headline is the
gain of distillation over the control, paired by seed, with a Student-t 95 %
interval over ``--seeds`` seeds (and the same against the baseline). The
int8 section quantizes the teacher and the seed-0 distilled student and
times batch-1 inference (median of interleaved rounds).
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
from tutelage.stats import mean_interval
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
    Xfit, Xval, yfit, yval = train_test_split(Xtr, ytr, test_size=0.2, random_state=0, stratify=ytr)

    started = time.perf_counter()
    teacher = nn.Sequential([nn.Dense(512), nn.ReLU(), nn.Dropout(0.3), nn.Dense(512), nn.ReLU(), nn.Dropout(0.3),
                             nn.Dense(10)], input_shape=(64,), seed=0)
    fit(teacher, Xfit, yfit, loss="cross_entropy", epochs=80, batch_size=64, lr=cosine(1e-3, steps(len(Xfit), 80) // 2),
        quiet=True)
    print(f"digits: {len(Xfit)} fit / {len(Xval)} validation / {len(Xte)} test; teacher 64→512→512→10 "
          f"({teacher.n_params:,} params) validation accuracy {accuracy(teacher, Xval, yval):.4f} "
          f"(trained in {time.perf_counter() - started:.0f} s)")

    models: dict[str, list[nn.Model]] = {"baseline (hard labels)": [], "control (noisy copies, hard labels)": []}
    models.update({f"distilled T={t}": [] for t in TEMPERATURES})
    for seed in range(args.seeds):
        base = student(args.hidden, seed)
        fit(base, Xfit, yfit, loss="cross_entropy", epochs=150, batch_size=BATCH, lr=cosine(1e-2, steps(len(Xfit), 150)),
            seed=seed, quiet=True)
        models["baseline (hard labels)"].append(base)
        transfer = noisy_copies(Xfit, seed)
        n = len(Xfit) + len(transfer)
        control = student(args.hidden, seed)
        fit(control, np.concatenate([Xfit, transfer]), np.concatenate([yfit, np.tile(yfit, COPIES)]),
            loss="cross_entropy", epochs=30, batch_size=BATCH, lr=cosine(1e-2, steps(n, 30)), seed=seed, quiet=True)
        models["control (noisy copies, hard labels)"].append(control)
        for t in TEMPERATURES:
            model, _ = distill(teacher, Xfit, yfit, student(args.hidden, seed), temperature=t, alpha=ALPHA,
                               transfer=transfer, epochs=30, batch_size=BATCH, lr=cosine(1e-2, steps(n, 30)), seed=seed)
            models[f"distilled T={t}"].append(model)

    validation = {name: [accuracy(m, Xval, yval) for m in ms] for name, ms in models.items()}
    print(f"\nvalidation accuracy, mean over {args.seeds} seeds (choosing T):")
    for name, accs in validation.items():
        print(f"  {name}: {100 * statistics.mean(accs):.2f} %")
    best_t = max(TEMPERATURES, key=lambda t: statistics.mean(validation[f"distilled T={t}"]))
    chosen = f"distilled T={best_t}"
    test = {name: [accuracy(m, Xte, yte) for m in models[name]]  # the test split, used once
            for name in ("baseline (hard labels)", "control (noisy copies, hard labels)", chosen)}
    teacher_acc = accuracy(teacher, Xte, yte)
    base_mean = statistics.mean(test["baseline (hard labels)"])
    print(f"\nstudents: 64→{args.hidden}→10 tanh ({student(args.hidden, 0).n_params:,} params), {args.seeds} seeds, "
          f"T = {best_t} chosen on validation; test accuracy (n = {len(Xte)} images), mean ± std and t interval")
    print("| student | test accuracy | 95 % interval (t) | errors | gap closed | per seed |\n|---|---|---|---|---|---|")
    for name, accs in test.items():
        mean = mean_interval(accs)
        gap = (mean.estimate - base_mean) / (teacher_acc - base_mean)
        print(f"| {name} | {100 * mean.estimate:.2f} ± {100 * statistics.pstdev(accs):.2f} % | "
              f"[{100 * mean.low:.2f}, {100 * mean.high:.2f}] | {len(Xte) * (1 - mean.estimate):.1f} | {round(100 * gap)} % | "
              + ", ".join(f"{100 * a:.2f}" for a in accs) + " |")
    print(f"| teacher | {100 * teacher_acc:.2f} % | | {len(Xte) * (1 - teacher_acc):.0f} | | |")
    for against in ("control (noisy copies, hard labels)", "baseline (hard labels)"):
        gain = mean_interval([a - b for a, b in zip(test[chosen], test[against])])
        print(f"gain of {chosen} over the {against.split(' (')[0]}: {100 * gain.estimate:+.2f} points "
              f"[{100 * gain.low:+.2f}, {100 * gain.high:+.2f}] (paired by seed, t, {gain.n} seeds)")

    with tempfile.TemporaryDirectory() as tmp:
        report_int8(teacher, models[chosen][0], best_t, Xte, yte, Path(tmp))


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
