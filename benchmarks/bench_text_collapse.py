"""Model collapse on text (pydoc corpus): replace vs accumulate over generations of lm.

    python benchmarks/bench_text_collapse.py [--seeds 3] [--generations 5] [--chars 20000] [--steps 300] [--temperature 1]

Prints per regime and generation the mean (95 % interval over seeds) of the
validation perplexity on real text and its loss on rare characters, the
shares of rare characters and rare words in the samples, and the share of the
real text's rare characters seen in them. Expected (issue): under replace
perplexity rises and rare characters vanish; accumulate stays bounded.
"""
from __future__ import annotations

import argparse

from threadpoolctl import threadpool_limits

from tutelage import stats
from tutelage.data.text import pydoc_splits
from tutelage.methods.text_collapse import REGIMES, text_collapse
from tutelage.nn.language import Tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--generations", type=int, default=5)
    parser.add_argument("--chars", type=int, default=20000)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--temperature", type=float, default=1.0, help="each generation samples at this temperature")
    args = parser.parse_args()
    splits = pydoc_splits(seed=0)
    tokenizer = Tokenizer.for_text("".join(splits.values()))
    rows = []
    with threadpool_limits(1):
        for regime in REGIMES:
            for seed in range(args.seeds):
                rows += text_collapse(splits["train"], splits["validation"][:10000], tokenizer, regime=regime,
                                      generations=args.generations, chars=args.chars, steps=args.steps, seed=seed,
                                      temperature=args.temperature)
                print(f"{regime} seed {seed}: perplexity " + " ".join(
                    f"{r['perplexity']:.2f}" for r in rows[-args.generations - 1:]), flush=True)
    print(f"\nn = {args.seeds} seeds; mean [95 % interval]")
    for regime in REGIMES:
        for g in range(args.generations + 1):
            sel = [r for r in rows if r["regime"] == regime and r["generation"] == g]
            print(f"{regime:10s} gen {g}: perplexity {stats.mean_interval([r['perplexity'] for r in sel])}  "
                  f"rare-char loss {stats.mean_interval([r['rare_char_loss'] for r in sel])}  "
                  f"rare chars {stats.mean_interval([r['rare_char_share'] for r in sel])}  "
                  f"rare chars seen {stats.mean_interval([r['rare_chars_seen'] for r in sel])}  "
                  f"rare words {stats.mean_interval([r['rare_word_share'] for r in sel])}")
        print(f"  last sample: {sel[0]['example']!r}")


if __name__ == "__main__":
    main()
