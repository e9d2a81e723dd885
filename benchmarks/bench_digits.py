"""The ``mlp`` model type on scikit-learn's digits against ``sklearn.neural_network.MLPClassifier``.

    python benchmarks/bench_digits.py [--epochs 50] [--repeat 3]

Same data (``load_digits``, pixels / 16, stratified 80/20 split with
``random_state=0``), same layers (64 → 64 → 64 tanh → 10), same optimizer
(Adam, lr 2e-3), batch size 32, no L2 penalty, the same number of epochs and no
early stop. Training time is the median over ``--repeat`` runs (seeds 0, 1, …);
accuracy is on the 20 % test split.
"""
from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from tutelage.plugins import registry
from tutelage.train import evaluate, fit

LR = 2e-3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.2, random_state=0, stratify=y)
    mlp = registry("model_types").get("mlp")
    ours_t, ours_acc, sk_t, sk_acc = [], [], [], []
    for seed in range(args.repeat):
        model = mlp.build((64,), 10, seed=seed, hidden=(64, 64), activation="tanh")
        start = time.perf_counter()
        fit(model, X_train, y_train, loss="cross_entropy", optimizer="adam", lr=LR, epochs=args.epochs,
            batch_size=32, seed=seed, quiet=True)
        ours_t.append(time.perf_counter() - start)
        ours_acc.append(evaluate(model, X_test, y_test, "cross_entropy")["accuracy"])

        clf = MLPClassifier(hidden_layer_sizes=(64, 64), activation="tanh", solver="adam", learning_rate_init=LR,
                            batch_size=32, alpha=0.0, max_iter=args.epochs, tol=0.0, n_iter_no_change=args.epochs + 1,
                            shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            clf.fit(X_train, y_train)
            sk_t.append(time.perf_counter() - start)
        assert clf.n_iter_ == args.epochs
        sk_acc.append(float(np.mean(clf.predict(X_test) == y_test)))
    ours, theirs = statistics.median(ours_t), statistics.median(sk_t)
    print(f"digits: {len(X_train)} train / {len(X_test)} test, 64→64→64→10 tanh, Adam lr {LR:g}, batch 32, "
          f"{args.epochs} epochs, {args.repeat} runs")
    print(f"  tutelage mlp   {ours:7.3f} s   test accuracy {statistics.median(ours_acc):.4f} "
          f"(min {min(ours_acc):.4f})")
    print(f"  sklearn MLP    {theirs:7.3f} s   test accuracy {statistics.median(sk_acc):.4f} "
          f"(min {min(sk_acc):.4f})")
    print(f"  tutelage trains {theirs / ours:.1f}× faster (target ≥ 3×, accuracy ≥ 0.97)")


if __name__ == "__main__":
    main()
