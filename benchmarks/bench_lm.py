"""The ``lm`` model against the same GPT in PyTorch, in one run: validation loss, training and sampling speed.

    python benchmarks/bench_lm.py [--steps 600] [--seeds 3] [--quick]

Corpus: the pydoc topics (``tutelage.data.text``), character vocabulary.
Both sides start from the same θ (copied into ``torch.nn.Linear`` etc.), see
the same random training windows in the same order, and use the same Adam,
warm-up + cosine schedule and global-norm clipping. PyTorch runs on one
thread (``torch.set_num_threads(1)``, attention by
``scaled_dot_product_attention(is_causal=True)``); numpy/scipy BLAS are held
to one thread. The PyTorch model's validation loss is measured by copying its
weights back into a tutelage model, so both use the same evaluation code.
Sampling: batch 1, with a per-layer KV cache on both sides, 60 tokens at
temperature 1 (prompt plus tokens within one context), median of 5.
Speed is reported twice: tokens per wall-clock second, and tokens per CPU
second of the (single) working thread, which other processes on a shared
machine do not inflate.
"""
from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits

from tutelage import stats
from tutelage.data.text import pydoc_splits
from tutelage.nn.language import LanguageModel, Tokenizer
from tutelage.nn.optim import cosine, warmup


class TorchGPT(torch.nn.Module):
    """The architecture of :class:`tutelage.nn.transformer.GPT`, parameters copied from its θ views."""

    def __init__(self, p: dict[str, np.ndarray], layers: int, heads: int):
        super().__init__()
        self.heads, self.layers = heads, layers
        self.params = torch.nn.ParameterDict({
            name.replace(".", "_"): torch.nn.Parameter(torch.tensor(np.array(view))) for name, view in p.items()})

    def _get(self, name: str) -> torch.Tensor:
        return self.params[name.replace(".", "_")]

    def _dense(self, x, name):
        return x @ self._get(name + ".w") + self._get(name + ".b")

    def _norm(self, x, name):
        return F.layer_norm(x, x.shape[-1:], self._get(name + ".g"), self._get(name + ".b"), 1e-5)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        b, t = ids.shape
        x = self._get("tok")[ids] + self._get("pos")[:t]
        d = x.shape[-1]
        for i in range(self.layers):
            q = f"h{i}."
            qkv = self._dense(self._norm(x, q + "ln1"), q + "qkv")
            qh, kh, vh = (qkv[..., j * d:(j + 1) * d].view(b, t, self.heads, -1).transpose(1, 2) for j in range(3))
            a = F.scaled_dot_product_attention(qh, kh, vh, is_causal=True).transpose(1, 2).reshape(b, t, d)
            x = x + self._dense(a, q + "proj")
            x = x + self._dense(F.gelu(self._dense(self._norm(x, q + "ln2"), q + "fc")), q + "out")
        return self._dense(self._norm(x, "lnf"), "head")

    @torch.inference_mode()
    def sample(self, prompt: list[int], max_tokens: int, context: int, seed: int) -> list[int]:
        """Batch-1 sampling with a KV cache per layer (the prompt plus tokens must fit the context)."""
        gen = torch.Generator().manual_seed(seed)
        d = self._get("tok").shape[1]
        hd = d // self.heads
        keys = [torch.zeros(self.heads, context, hd) for _ in range(self.layers)]
        values = [torch.zeros(self.heads, context, hd) for _ in range(self.layers)]
        out, tokens = [], list(prompt)
        for pos in range(len(prompt) + max_tokens - 1):
            x = self._get("tok")[tokens[pos]] + self._get("pos")[pos]
            for i in range(self.layers):
                q = f"h{i}."
                qkv = self._dense(self._norm(x, q + "ln1"), q + "qkv").view(3, self.heads, hd)
                keys[i][:, pos], values[i][:, pos] = qkv[1], qkv[2]
                att = torch.softmax(keys[i][:, :pos + 1] @ qkv[0].unsqueeze(-1) / math.sqrt(hd), dim=1)
                a = (att.transpose(1, 2) @ values[i][:, :pos + 1]).reshape(d)
                x = x + self._dense(a, q + "proj")
                x = x + self._dense(F.gelu(self._dense(self._norm(x, q + "ln2"), q + "fc")), q + "out")
            if pos >= len(prompt) - 1:
                logits = self._dense(self._norm(x, "lnf"), "head")
                tokens.append(int(torch.multinomial(torch.softmax(logits, -1), 1, generator=gen)))
                out.append(tokens[-1])
        return out


class Clock:
    """Wall-clock and this thread's CPU seconds of a ``with`` block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.thread_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.thread_time() - self.cpu


def train_torch(model: TorchGPT, ids: np.ndarray, steps: int, batch: int, context: int, lr: float,
                seed: int) -> Clock:
    """The loop of :meth:`LanguageModel.fit` in PyTorch; returns its timing."""
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=1.0)
    schedule = warmup(cosine(lr, steps, lr / 10), min(100, steps // 10))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    with Clock() as clock:
        for _ in range(steps):
            starts = rng.integers(0, ids.size - context, batch)
            window = torch.from_numpy(ids[starts[:, None] + np.arange(context + 1)])
            opt.zero_grad()
            logits = model(window[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), window[:, 1:].reshape(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
    return clock


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(1)
    splits = pydoc_splits(seed=0)
    tokenizer = Tokenizer.for_text("".join(splits.values()))
    train = tokenizer.encode(splits["train"])
    validation = splits["validation"][:args.validation_chars]
    arch = dict(context=args.context, layers=args.layers, width=args.width, heads=args.heads)
    rows = []
    for seed in range(args.seeds):
        ours = LanguageModel(tokenizer, seed=seed, **arch)
        theirs = TorchGPT(ours.gpt.p, args.layers, args.heads)
        with Clock() as t_ours:
            ours.fit(train, steps=args.steps, batch_size=args.batch, lr=args.lr, seed=seed)
        t_theirs = train_torch(theirs, train, args.steps, args.batch, args.context, args.lr, seed)
        back = LanguageModel(tokenizer, seed=seed, **arch)
        for name, view in back.gpt.p.items():
            view[...] = theirs._get(name).detach().numpy()
        prompt = tokenizer.encode("The ")
        s_ours, s_theirs = [], []
        for rep in range(5):
            with Clock() as clock:
                ours.generate("The ", args.sample_tokens, temperature=1.0, seed=rep)
            s_ours.append(clock)
            with Clock() as clock:
                theirs.sample([int(i) for i in prompt], args.sample_tokens, args.context, seed=rep)
            s_theirs.append(clock)
        tokens = args.steps * args.batch * args.context
        r = {"val_ours": ours.loss(validation), "val_torch": back.loss(validation)}
        for clock in ("wall", "cpu"):
            r[f"train_ours_{clock}"] = tokens / getattr(t_ours, clock)
            r[f"train_torch_{clock}"] = tokens / getattr(t_theirs, clock)
            for side, runs in (("ours", s_ours), ("torch", s_theirs)):
                r[f"sample_{side}_{clock}"] = args.sample_tokens / statistics.median(getattr(c, clock) for c in runs)
        rows.append(r)
        print(f"seed {seed}: val loss {r['val_ours']:.4f} vs torch {r['val_torch']:.4f} nats/char; "
              f"train {r['train_ours_wall']:.0f} vs {r['train_torch_wall']:.0f} tok/s "
              f"({r['train_ours_cpu']:.0f} vs {r['train_torch_cpu']:.0f} per CPU s); "
              f"sample {r['sample_ours_wall']:.0f} vs {r['sample_torch_wall']:.0f} tok/s "
              f"({r['sample_ours_cpu']:.0f} vs {r['sample_torch_cpu']:.0f} per CPU s)", flush=True)
    diff = [r["val_ours"] - r["val_torch"] for r in rows]
    print(f"\n{args.layers} layers × {args.width} wide, {args.heads} heads, context {args.context}, batch "
          f"{args.batch}, {args.steps} steps, vocabulary {tokenizer.size}; n = {len(rows)} seeds")
    lines = [("val loss ours − torch (nats/char)", diff, "|·| ≤ 0.03")]
    for task, target in (("train", "≥ 2"), ("sample", "≥ 3")):
        for clock, unit in (("wall", "tokens/s"), ("cpu", "tokens/CPU s")):
            lines.append((f"{task} {unit} ratio", [r[f"{task}_ours_{clock}"] / r[f"{task}_torch_{clock}"]
                                                   for r in rows], target))
    for label, values, target in lines:
        ci = stats.mean_interval(values)
        print(f"{label:38s} median {statistics.median(values):+.3f}  mean {ci.estimate:+.3f} "
              f"[95% {ci.low:+.3f}, {ci.high:+.3f}]   target {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--context", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--sample-tokens", type=int, default=60)
    parser.add_argument("--validation-chars", type=int, default=20000)
    parser.add_argument("--quick", action="store_true", help="60 steps, 1 seed")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.seeds = 60, 1
    with threadpool_limits(1):
        run(args)


if __name__ == "__main__":
    main()
