"""Core engine against numpy and PyTorch, measured in one run (medians; ratios printed).

    python benchmarks/bench_core.py [--quick]

1. batch-1 inference of an MLP 16→64→64→2 (tanh): tutelage ``model(x)``, the
   same forward in numpy, ``torch.nn.Sequential`` under ``inference_mode``;
2. one Adam training step (zero grad, forward, MSE, backward, update) of that
   MLP at batch 64, against PyTorch;
3. Dense 1024→1024 at batch 256, forward + backward, against numpy's time for
   the same three matrix products.

PyTorch runs on one thread (``torch.set_num_threads(1)``); for 1 and 2 the
BLAS libraries of numpy and scipy are limited to one thread too; 3 runs with
one BLAS thread and then with the default count for both. The BLAS kernels in use are printed:
OPENBLAS_CORETYPE pins an older kernel on some machines, so run it as
``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_core.py``
to compare against numpy at its best.
"""
from __future__ import annotations

import argparse
import os
import statistics
import timeit

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from tutelage import nn


def medians(candidates: dict[str, tuple], repeat: int) -> dict[str, float]:
    """Median seconds per call of each ``name: (fn, calls per run)``, runs interleaved so drift hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for fn, _ in candidates.values():
        fn()
    for _ in range(repeat):
        for name, (fn, number) in candidates.items():
            times[name].append(timeit.timeit(fn, number=number) / number)
    return {name: statistics.median(values) for name, values in times.items()}


def report(name: str, ours: float, theirs: dict[str, float]) -> None:
    print(f"{name}: tutelage {ours * 1e6:9.2f} µs")
    for label, seconds in theirs.items():
        print(f"{'':{len(name)}}  {label:>8} {seconds * 1e6:9.2f} µs   tutelage is {seconds / ours:6.2f}× faster")


def mlp_pair(seed: int = 0):
    model = nn.Sequential([nn.Dense(64), nn.Tanh(), nn.Dense(64), nn.Tanh(), nn.Dense(2)], input_shape=(16,), seed=seed)
    net = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64), torch.nn.Tanh(),
                              torch.nn.Linear(64, 2))
    with torch.no_grad():
        for linear, dense in zip(net[::2], model.layers[::2]):
            linear.weight.copy_(torch.from_numpy(dense.weight.T.copy()))
            linear.bias.copy_(torch.from_numpy(dense.bias.copy()))
    return model, net


def bench_batch1(scale: float) -> None:
    model, net = mlp_pair()
    x = np.random.default_rng(0).standard_normal(16).astype(np.float32)
    w1, b1, w2, b2, w3, b3 = (np.ascontiguousarray(p) for layer in model.layers[::2] for p in layer.params.values())
    xt = torch.from_numpy(x)

    def numpy_forward():
        return np.tanh(np.tanh(x @ w1 + b1) @ w2 + b2) @ w3 + b3

    def torch_forward():
        with torch.inference_mode():
            return net(xt)

    np.testing.assert_allclose(model(x), numpy_forward(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model(x), torch_forward().numpy(), rtol=1e-4, atol=1e-5)
    n = int(20000 * scale)
    t = medians({"tutelage": (lambda: model(x), n), "numpy": (numpy_forward, n // 5), "torch": (torch_forward, n // 20)}, 15)
    report("batch-1 inference, MLP 16→64→64→2 tanh", t.pop("tutelage"), t)


def bench_adam_step(scale: float) -> None:
    model, net = mlp_pair()
    rng = np.random.default_rng(1)
    X = rng.standard_normal((64, 16)).astype(np.float32)
    Y = rng.standard_normal((64, 2)).astype(np.float32)
    loss, opt = nn.losses.MSE(), nn.optim.Adam(lr=1e-3)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    opt_t = torch.optim.Adam(net.parameters(), lr=1e-3)

    def ours():
        model.zero_grad()
        _, grad = loss(model.forward(X, training=True), Y)
        model.backward(grad, input_grad=False)
        opt.step(model)

    def theirs():
        opt_t.zero_grad()
        torch.nn.functional.mse_loss(net(Xt), Yt).backward()
        opt_t.step()

    n = int(2000 * scale)
    t = medians({"tutelage": (ours, n), "torch": (theirs, n // 10)}, 15)
    report("Adam step, MLP 16→64→64→2, batch 64", t.pop("tutelage"), t)


def bench_dense_1024(scale: float, threads: str) -> None:
    rng = np.random.default_rng(2)
    model = nn.Sequential([nn.Dense(1024)], input_shape=(1024,), seed=0)
    X = rng.standard_normal((256, 1024)).astype(np.float32)
    dY = rng.standard_normal((256, 1024)).astype(np.float32)
    W = np.ascontiguousarray(model.layers[0].weight)

    def ours():
        model.forward(X, training=True)
        model.backward(dY)

    def numpy_products():
        X @ W
        X.T @ dY
        dY @ W.T

    t = medians({"tutelage": (ours, max(1, int(5 * scale))), "numpy": (numpy_products, max(1, int(5 * scale)))}, 15)
    ours_s, numpy_s = t["tutelage"], t["numpy"]
    print(f"Dense 1024→1024, batch 256, fwd+bwd, {threads}: tutelage {ours_s * 1e3:.2f} ms, numpy's three products "
          f"{numpy_s * 1e3:.2f} ms, ratio {ours_s / numpy_s:.3f} (target ≤ 1.25)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0
    torch.set_num_threads(1)
    print("OPENBLAS_CORETYPE =", os.environ.get("OPENBLAS_CORETYPE", "(unset)"))
    for lib in threadpool_info():
        print(f"  {lib['internal_api']} {lib.get('version')} {lib.get('architecture')} threads={lib['num_threads']}"
              f" ({os.path.basename(lib['filepath'])})")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread")
    with threadpool_limits(1):
        bench_batch1(scale)
        bench_adam_step(scale)
        bench_dense_1024(scale, "1 BLAS thread")
    bench_dense_1024(scale, "default BLAS threads")


if __name__ == "__main__":
    main()
