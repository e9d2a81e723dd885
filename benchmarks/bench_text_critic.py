"""The text critic loop on the pydoc corpus: violations of the text constitution before and after fine-tuning.

    python benchmarks/bench_text_critic.py [--seeds 3] [--steps 800] [--context 64] [--rounds 2] [--resample 8] [--split test]

Per seed: an lm (2 × 64) trains on the training split, then
``critique_revise_finetune`` samples continuations of ``--split`` prompts (each
ending where the model writes a blank line, or after 160 tokens), revises them
(``--resample`` fresh continuations first, then the rules) and fine-tunes on
the revised samples mixed with corpus paragraphs that keep the constitution
(``--mix``). Reported: the share of samples breaking any principle (round 0 vs
the last round) and the loss change on the split's text. Targets (issue): violations
÷ 5, validation loss at most 0.05 nats/char worse.
"""
from __future__ import annotations

import argparse

import numpy as np
from threadpoolctl import threadpool_limits

from tutelage import stats
from tutelage.data.text import pydoc_splits
from tutelage.methods.text_critic import critique_revise_finetune
from tutelage.nn.language import LanguageModel, Tokenizer


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1 "
                                                                  "(to run seeds as parallel processes)")
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--context", type=int, default=64,
                        help="the lm's context (tokens): a sample longer than it is written with its start forgotten")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--finetune-steps", type=int, default=300)
    parser.add_argument("--mix", type=float, default=0.5, help="share of corpus paragraphs in the fine-tuning text")
    parser.add_argument("--split", choices=("validation", "test"), default="validation",
                        help="prompts and loss text: compare settings on validation, read test once")
    parser.add_argument("--resample", type=int, default=0,
                        help="revise a broken sample by up to this many fresh continuations of its prompt first")
    parser.add_argument("--preference-steps", type=int, default=0,
                        help="DPO steps a round on (revision, broken sample) pairs after the fine-tuning")
    parser.add_argument("--beta", type=float, default=0.1, help="DPO's beta")
    parser.add_argument("--preference-lr", type=float, default=1e-4)
    parser.add_argument("--mix-max-chars", type=int, default=None,
                        help="mix in only corpus paragraphs this short (a sample's length: complete texts)")
    args = parser.parse_args()
    splits = pydoc_splits(seed=0)
    tokenizer = Tokenizer.for_text("".join(splits.values()))
    held_out = splits[args.split][:20000]
    words = held_out.split()
    prompts = [" ".join(words[i:i + 3]) + " " for i in range(0, len(words) - 3, 7)]
    before, after, dloss = [], [], []
    with threadpool_limits(1):
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            lm = LanguageModel(tokenizer, context=args.context, layers=2, width=64, heads=4, seed=seed)
            lm.fit(splits["train"], steps=args.steps, batch_size=16, lr=3e-3, seed=seed)
            history = critique_revise_finetune(lm, prompts, splits["train"], held_out, rounds=args.rounds,
                                               samples=args.samples, max_tokens=160, steps=args.finetune_steps,
                                               mix=args.mix, resample=args.resample, seed=seed,
                                               preference_steps=args.preference_steps, beta=args.beta,
                                               preference_lr=args.preference_lr, mix_max_chars=args.mix_max_chars)
            before.append(history[0]["violation_rate"])
            after.append(history[-1]["violation_rate"])
            dloss.append(history[-1]["validation_loss"] - history[0]["validation_loss"])
            print(f"seed {seed}: " + "; ".join(f"round {h['round']}: violations {h['violation_rate']:.2f}, "
                                               f"val loss {h['validation_loss']:.3f}" for h in history), flush=True)
            print("  unfinished at max tokens (violations among the finished): " + "; ".join(
                f"round {h['round']}: {h['unfinished']:.2f} ({_rate(h['violation_rate_finished'])})" for h in history))
            print("  revised by: " + "; ".join(f"round {h['round']}: {h['revised_by']}" for h in history[:-1]))
            if args.preference_steps:
                print("  DPO: " + "; ".join(f"round {h['round']}: {h.get('preference')}" for h in history[:-1]))
            print(f"  before: {history[0]['example']!r}\n  after:  {history[-1]['example']!r}", flush=True)
            print("  by principle, first → last round: " + ", ".join(
                f"{k} {v:.2f} → {history[-1]['by_principle'][k]:.2f}" for k, v in history[0]["by_principle"].items()))
    ratio = [b / max(a, 1.0 / args.samples) for b, a in zip(before, after)]
    print(f"\nn = {args.seeds} seeds × {args.samples} samples per round")
    print(f"violation rate before {stats.mean_interval(before)}  after {stats.mean_interval(after)}")
    print(f"reduction factor {stats.mean_interval(ratio)} (target ≥ 5)")
    print(f"{args.split} loss change {stats.mean_interval(dloss)} nats/char (target ≤ +0.05)")
    print(f"median reduction {np.median(ratio):.2f}")


if __name__ == "__main__":
    main()
