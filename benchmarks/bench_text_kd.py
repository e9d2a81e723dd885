"""Text distillation on the pydoc corpus: teacher (4 × 128) → student (1 × 32), token KD vs sequence KD vs corpus only.

    python benchmarks/bench_text_kd.py [--teacher-steps 1500] [--steps 1500] [--seeds 3] [--quick]

The teacher trains once (seed 0); each student arm trains ``--steps`` Adam steps
per seed from the same initialization; the temperature is picked on the
validation split and the test split is read once (``tutelage.methods.text_kd``).
Target: token KD closes ≥ 30 % of the teacher–student test-loss gap.
"""
from __future__ import annotations

import argparse
import time

from threadpoolctl import threadpool_limits

from tutelage.data.text import pydoc_splits
from tutelage.methods.text_kd import distill_text
from tutelage.nn.language import LanguageModel, Tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher-steps", type=int, default=1500)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--temperatures", type=float, nargs="+", default=[1.0, 2.0])
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.5, 0.9])
    parser.add_argument("--student", type=int, nargs=2, default=[1, 32], metavar=("LAYERS", "WIDTH"))
    parser.add_argument("--quick", action="store_true", help="tiny run: 100 steps, 1 seed")
    args = parser.parse_args()
    if args.quick:
        args.teacher_steps, args.steps, args.seeds = 100, 100, 1
    splits = pydoc_splits(seed=0)
    tokenizer = Tokenizer.for_text("".join(splits.values()))  # the whole corpus: held-out splits are covered
    splits = {"train": splits["train"], "validation": splits["validation"][:20000], "test": splits["test"][:20000]}
    with threadpool_limits(1):
        start = time.perf_counter()
        teacher = LanguageModel(tokenizer, context=64, layers=4, width=128, heads=4, seed=0)
        teacher.fit(splits["train"], steps=args.teacher_steps, batch_size=16, lr=2e-3, seed=0)
        print(f"teacher 4 × 128: {teacher.gpt.parameter_count} parameters, {time.perf_counter() - start:.0f} s",
              flush=True)
        result = distill_text(teacher, splits, dict(context=64, layers=args.student[0], width=args.student[1], heads=2),
                              seeds=args.seeds, steps=args.steps, temperatures=args.temperatures, alphas=args.alphas)
    print(f"\nvalidation (mean over {args.seeds} seeds):")
    for arm, losses in result.validation.items():
        print(f"  {arm:14s} {sum(losses) / len(losses):.4f}")
    print(f"chosen temperature {result.temperature:g}, alpha {result.alpha:g}; test (nats/char, mean [95 % interval], n = {args.seeds}):")
    print(f"  teacher        {result.teacher['test']:.4f}")
    for arm in result.test:
        print(f"  {arm:14s} {result.summary[arm + '_test']}")
    for arm in ("token", "sequence"):
        print(f"gap closed by {arm} KD: {result.summary[arm + '_gap_closed']}   (target for token KD: ≥ 0.30)")
    print(f"elapsed {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
