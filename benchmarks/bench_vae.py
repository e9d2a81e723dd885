"""VAE on scikit-learn's digits: the tutelage core vs the same VAE in PyTorch, one thread each.

Same architecture (64 → 128 → 2·8 | 8 → 128 → 64, ReLU, Bernoulli decoder),
same Adam(1e-3), epochs, batch size and train/test split. Reports the median
training time and the held-out ELBO (nats per digit, averaged over 10 latent
draws per digit) per seed, with 95 % intervals over seeds.

    python benchmarks/bench_vae.py --seeds 5 --epochs 30
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from threadpoolctl import threadpool_limits

from tutelage.plugins import registry
from tutelage.stats import mean_interval

HIDDEN, LATENT, LR = 128, 8, 1e-3
DRAWS = 10  # latent draws per held-out digit when estimating the ELBO


def split(seed: int) -> tuple[np.ndarray, np.ndarray]:
    x = load_digits().data / 16.0
    order = np.random.default_rng(seed).permutation(len(x))
    return x[order[:1300]], x[order[1300:]]


def ours(train: np.ndarray, test: np.ndarray, seed: int, epochs: int, batch: int) -> tuple[float, float]:
    vae = registry("model_types").get("vae").build((64,), 64, seed=seed, latent=LATENT, hidden=(HIDDEN,),
                                                   epochs=epochs, batch_size=batch, lr=LR)
    start = time.perf_counter()
    vae.fit(train)
    return time.perf_counter() - start, float(vae.elbo(test, samples=DRAWS).mean())


class TorchVAE(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = torch.nn.Sequential(torch.nn.Linear(64, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 2 * LATENT))
        self.dec = torch.nn.Sequential(torch.nn.Linear(LATENT, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 64))

    def loss(self, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """Per-row negative ELBO."""
        mean, log_var = self.enc(x).chunk(2, dim=1)
        logits = self.dec(mean + torch.exp(0.5 * log_var) * eps)
        rec = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=1)
        return rec + 0.5 * (mean**2 + log_var.exp() - 1 - log_var).sum(dim=1)


def theirs(train: np.ndarray, test: np.ndarray, seed: int, epochs: int, batch: int) -> tuple[float, float]:
    torch.manual_seed(seed)
    model = TorchVAE()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    x = torch.tensor(train, dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch):
            xb = x[order[i:i + batch]]
            loss = model.loss(xb, torch.randn(len(xb), LATENT, generator=gen)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        xt = torch.tensor(test, dtype=torch.float32)
        elbo = -sum(model.loss(xt, torch.randn(len(xt), LATENT, generator=gen)).mean().item()
                    for _ in range(DRAWS)) / DRAWS
    return seconds, elbo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = {"tutelage": [], "pytorch": []}
    with threadpool_limits(1):
        for seed in range(args.seeds):
            train, test = split(seed)
            rows["tutelage"].append(ours(train, test, seed, args.epochs, args.batch))
            rows["pytorch"].append(theirs(train, test, seed, args.epochs, args.batch))
    print(f"VAE on digits: 1300 train / 497 test, {args.epochs} epochs, batch {args.batch}, {args.seeds} seeds, 1 thread")
    print(f"{'':10} {'median s':>9} {'held-out ELBO (nats/digit), mean [95 % CI]':>45}")
    for name, values in rows.items():
        print(f"{name:10} {statistics.median(s for s, _ in values):9.3f} {str(mean_interval([e for _, e in values])):>45}")
    speed = [t / o for (o, _), (t, _) in zip(rows["tutelage"], rows["pytorch"])]
    gap = [(o - t) / abs(t) for (_, o), (_, t) in zip(rows["tutelage"], rows["pytorch"])]
    print(f"speed-up (PyTorch time / tutelage time, per seed): median {statistics.median(speed):.2f}×, "
          f"mean {mean_interval(speed)}")
    print(f"relative ELBO difference (tutelage − PyTorch) / |PyTorch|: {mean_interval(gap)}")


if __name__ == "__main__":
    main()
