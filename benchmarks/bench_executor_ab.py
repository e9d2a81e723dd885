"""Batch-1 MLP 16→64→64→2 (tanh) on this build's executor against another build of it, interleaved.

    python benchmarks/bench_executor_ab.py OLD_NETWORK_SO [--runs 100]

OLD_NETWORK_SO is ``tutelage/_core/network*.so`` from an earlier build (copied aside before rebuilding); it is
loaded under its own module name and runs the same layers and θ. Prints the medians and the mean per-run time
ratio (this build / the other) with its 95 % interval.
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import timeit

import numpy as np

from tutelage import nn
from tutelage.nn import model as _model
from tutelage.stats import mean_interval


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", help="the other build's network extension (.so)")
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("network", args.old)
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    methods = {k: v for k, v in vars(_model.Model).items() if k not in ("__dict__", "__weakref__")}
    OldModel = type("OldModel", (old.Network,), methods)
    layers = [nn.Dense(64), nn.Tanh(), nn.Dense(64), nn.Tanh(), nn.Dense(2)]
    models = {"other build": OldModel(layers, (16,), seed=0), "this build": nn.Model(layers, (16,), seed=0)}
    x = np.random.default_rng(0).standard_normal(16).astype(np.float32)
    assert np.array_equal(models["other build"](x), models["this build"](x))
    times: dict[str, list[float]] = {name: [] for name in models}
    for run in range(args.runs):
        for name, model in sorted(models.items(), reverse=run % 2 == 1):  # alternate which goes first
            times[name].append(timeit.timeit(lambda: model(x), number=20000) / 20000)
    for name, values in times.items():
        print(f"{name:>12}: median {statistics.median(values) * 1e6:.3f} µs per call ({args.runs} runs × 20000)")
    ratios = [a / b for a, b in zip(times["this build"], times["other build"])]
    print(f"this build / other build, mean per-run ratio: {mean_interval(ratios)}")


if __name__ == "__main__":
    main()
