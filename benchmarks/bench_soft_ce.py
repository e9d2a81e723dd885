"""Token-distillation loss (soft cross-entropy with temperature, forward + gradient) against numpy and PyTorch.

    python benchmarks/bench_soft_ce.py [--old MODULE_PATH]

Shapes of the text-KD runs: 16 sequences × 64 positions over a 96-symbol vocabulary, T = 2. ``--old`` names a
build of an earlier ``tutelage._core.sequence`` (a .so) to time side by side. One thread; medians of interleaved
runs; ratios printed.
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import timeit

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from tutelage._core import sequence as _s
from tutelage._core import simd
from tutelage.nn import reference

ROWS, VOCAB, T = 16 * 64, 96, 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", help="path to an earlier sequence extension module, built as 'sequence_old'")
    parser.add_argument("--repeat", type=int, default=21)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    logits = (3 * rng.standard_normal((ROWS, VOCAB))).astype(np.float32)
    probs = rng.dirichlet(np.ones(VOCAB), ROWS).astype(np.float32)
    grad = np.empty_like(logits)
    lt, pt = torch.from_numpy(logits.copy()).requires_grad_(), torch.from_numpy(probs)

    def ours(module=_s):
        return module.soft_cross_entropy(logits, probs, grad, ROWS, VOCAB, T)

    def torch_loss():
        lt.grad = None
        loss = -(pt * torch.log_softmax(lt / T, -1)).sum(-1).mean() * T * T
        loss.backward()
        return float(loss.detach()) / (T * T)

    candidates = {f"tutelage ({simd.simd_path()})": ours,
                  "numpy": lambda: reference.soft_cross_entropy(logits, probs, T),
                  "torch": torch_loss}
    if args.old:
        spec = importlib.util.spec_from_file_location("sequence_old", args.old)
        old = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(old)
        candidates["tutelage before"] = lambda: ours(old)
        assert abs(ours(old) - ours()) < 1e-4 * abs(ours())
    ref = reference.soft_cross_entropy(logits.astype(np.float64), probs.astype(np.float64), T)[0]
    assert abs(ours() - ref) < 1e-4 * ref and abs(torch_loss() - ref) < 1e-4 * ref
    times: dict[str, list[float]] = {name: [] for name in candidates}
    with threadpool_limits(1):
        for _ in range(args.repeat):
            for name, fn in candidates.items():
                times[name].append(timeit.timeit(fn, number=20) / 20)
    medians = {name: statistics.median(values) for name, values in times.items()}
    mine = medians[next(iter(candidates))]
    print(f"soft cross-entropy, {ROWS} rows × {VOCAB}, T={T}, forward + gradient; median of {args.repeat} runs × 20")
    for name, seconds in medians.items():
        print(f"  {name:>20} {seconds * 1e6:9.1f} µs   tutelage is {seconds / mine:6.2f}× faster")


if __name__ == "__main__":
    main()
