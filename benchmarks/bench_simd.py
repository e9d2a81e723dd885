"""The core's SIMD paths, from each install: batch-1 inference and a training step, AVX2 against baseline.

    python benchmarks/bench_simd.py [--python LABEL=INTERPRETER ...] [--rounds 5] [--quick]

Each (install, path) pair runs in its own process (``TUTELAGE_SIMD`` picks the
path at import), ``--rounds`` times, pairs interleaved so drift hits all alike;
a round prints the medians of many timed calls, and the table gives the median
over rounds with a 95 % interval of the mean (``tutelage.stats``). Without
``--python`` it compares this interpreter's install only; pass e.g.
``--python local=python --python wheel=build/wheel-check/venv-wheel/bin/python``
to compare a local build with the wheel. numpy's forward of the same MLP, timed
in the same process, is the reference a user would reach for instead.

Measured: an MLP 16→64→64→2 tanh (as in bench_core.py) at batch 1, float32 and
int8 (``quantize``, with and without its first layer's rows equalized), and one Adam step at batch 64 (zero grad, forward, MSE,
backward, update).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import timeit

import numpy as np

PATHS = ("auto", "baseline")


def round_medians(scale: float) -> dict:
    """One round in this process: median seconds per call of each measurement."""
    from threadpoolctl import threadpool_limits

    import tutelage._core
    from tutelage import nn
    from tutelage.nn.quantize import quantize

    model = nn.Sequential([nn.Dense(64), nn.Tanh(), nn.Dense(64), nn.Tanh(), nn.Dense(2)], input_shape=(16,), seed=0)
    qmodel, plain = quantize(model), quantize(model, equalize_inputs=False)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(16).astype(np.float32)
    X, Y = rng.standard_normal((64, 16)).astype(np.float32), rng.standard_normal((64, 2)).astype(np.float32)
    w1, b1, w2, b2, w3, b3 = (np.ascontiguousarray(p) for layer in model.layers[::2] for p in layer.params.values())
    loss, opt = nn.losses.MSE(), nn.optim.Adam(lr=1e-3)

    def numpy_forward():
        return np.tanh(np.tanh(x @ w1 + b1) @ w2 + b2) @ w3 + b3

    def adam_step():
        model.zero_grad()
        _, grad = loss(model.forward(X, training=True), Y)
        model.backward(grad, input_grad=False)
        opt.step(model)

    np.testing.assert_allclose(model(x), numpy_forward(), rtol=1e-4, atol=1e-5)
    calls = {"batch-1 float32": (lambda: model(x), 20000), "batch-1 int8": (lambda: qmodel(x), 20000),
             "batch-1 int8, first layer's rows not equalized": (lambda: plain(x), 20000),
             "Adam step, batch 64": (adam_step, 2000), "numpy batch-1 float32": (numpy_forward, 4000)}
    times: dict[str, list[float]] = {name: [] for name in calls}
    with threadpool_limits(1):
        for _ in range(7):
            for name, (fn, number) in calls.items():
                n = max(1, int(number * scale))
                times[name].append(timeit.timeit(fn, number=n) / n)
    return {"simd": tutelage._core.simd_path(), "where": os.path.dirname(tutelage.__file__),
            **{name: statistics.median(values) for name, values in times.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", action="append", default=[], metavar="LABEL=INTERPRETER",
                        help="an install to measure (repeatable); default: this interpreter")
    parser.add_argument("--rounds", type=int, default=5, help="processes per (install, path) pair")
    parser.add_argument("--quick", action="store_true", help="fewer calls per round (a smoke run)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0
    if args.child:
        print(json.dumps(round_medians(scale)))
        return
    from tutelage.stats import mean_interval

    installs = dict(item.split("=", 1) for item in args.python) or {"this": sys.executable}
    pairs = [(label, path) for label in installs for path in PATHS]
    rounds: dict[tuple[str, str], list[dict]] = {pair: [] for pair in pairs}
    for _ in range(args.rounds):
        for label, path in pairs:
            command = [installs[label], __file__, "--child", *(["--quick"] if args.quick else [])]
            out = subprocess.run(command, capture_output=True, text=True, check=True,
                                 env={**os.environ, "TUTELAGE_SIMD": path}).stdout
            rounds[label, path].append(json.loads(out))
    for (label, path), results in rounds.items():
        print(f"{label} ({results[0]['where']}), TUTELAGE_SIMD={path} -> {results[0]['simd']}")
    reference = rounds[pairs[0]]
    names = [name for name in reference[0] if name not in ("simd", "where")]
    print(f"\nmedian µs per call over {args.rounds} rounds [95 % interval of the mean]; "
          f"ratio = time / time of {pairs[0][0]} {reference[0]['simd']}")
    headers = [f"{label} {rounds[pair][0]['simd']}" for pair in pairs for label in pair[:1]]
    print(f"| measurement | {' | '.join(headers)} |")
    print(f"|---|{'---|' * len(pairs)}")
    for name in names:
        base = statistics.median(r[name] for r in reference)
        cells = []
        for pair in pairs:
            values = [r[name] * 1e6 for r in rounds[pair]]
            ci = mean_interval(values)
            cells.append(f"{statistics.median(values):.2f} [{ci.low:.2f}, {ci.high:.2f}] "
                         f"({statistics.median(values) / (base * 1e6):.2f}×)")
        print(f"| {name} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
