"""Text judges → preferences → Bradley–Terry reward model → best-of-n distillation, scored by an oracle.

    python benchmarks/bench_text_judge.py [--seeds 3] [--pairs 200] [--n 8] [--rounds 2] [--eval 200]

On a busy machine, in parallel processes sharing ``--cache DIR``: ``--train
teacher`` and ``--train reference`` (each saves its LM), then ``--first-seed
K --seeds 1`` per seed (each saves ``seed-K.json``), then ``--summary``.

Once: a teacher LM (3 × 96, the likelihood judge) and a larger reference LM
(4 × 128, another seed, read only by the oracle) train on the training split
(``--teacher-steps``, ``--reference-steps``).
Per seed: the starting LM (2 × 64) trains on the training split; two
continuations of each of ``--pairs`` training prompts are judged by the panel
(teacher likelihood + constitution, both orders); a reward model (MLP over
the text features) learns the labels; best-of-n distillation fine-tunes the
LM; the oracle (rule compliance, then reference likelihood) compares the
improved LM with the start on ``--eval`` held-out validation prompts, same
sampling seed per prompt. Target (issue 16): the improved LM wins ≥ 65 %.
A control arm fine-tunes the start the same way on random samples (n = 1).
"""
from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from tutelage import nn, stats
from tutelage.data.text import pydoc_splits
from tutelage.judging import agreement
from tutelage.methods.text_critic import load_constitution
from tutelage.methods.text_judge import (FEATURES, ConstitutionJudge, LikelihoodJudge, Oracle, RewardJudge, clone,
                                         improve_text, judge_text_pairs, preference_pairs, train_text_reward, win_rate)
from tutelage.nn.language import LanguageModel, Tokenizer
from tutelage.plugins import get_host
from tutelage.protocols import Verdict


def prompts_of(text: str, every: int) -> list[str]:
    words = text.split()
    return [" ".join(words[i:i + 3]) + " " for i in range(0, len(words) - 3, every)]


def oracle_agreement(rows: list[dict], key: str, oracle: Oracle) -> tuple[int, int]:
    said = [Verdict("first" if r[key] > 0.5 else "second" if r[key] < 0.5 else "tie", r[key]) for r in rows]
    truth = [Verdict({1: "first", -1: "second", 0: "tie"}[oracle.compare(r["first"], r["second"])]) for r in rows]
    return agreement(said, truth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=800, help="training steps of the starting LM")
    parser.add_argument("--teacher-steps", type=int, default=1200)
    parser.add_argument("--reference-steps", type=int, default=1500)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--train-prompts", type=int, default=100)
    parser.add_argument("--eval", type=int, default=200)
    parser.add_argument("--cache", type=Path, default=None, help="folder for the teacher, the reference and seed results")
    parser.add_argument("--train", choices=("teacher", "reference"), help="only train (and cache) this LM")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--summary", action="store_true", help="only summarize the cached seed results")
    args = parser.parse_args()
    if args.summary:
        return summarize([json.loads(p.read_text()) for p in sorted(args.cache.glob("seed-*.json"))])
    splits = pydoc_splits(seed=0)
    tokenizer = Tokenizer.for_text("".join(splits.values()))
    train_prompts, held_out = prompts_of(splits["train"], 101), prompts_of(splits["validation"], 7)[:args.eval]
    principles = load_constitution()
    mlp = get_host().registry("model_types").get("mlp")
    start_time = time.perf_counter()
    with threadpool_limits(1):
        models = {"teacher": lambda: trained(tokenizer, splits, 3, 96, args.teacher_steps, 100),
                  "reference": lambda: trained(tokenizer, splits, 4, 128, args.reference_steps, 200)}
        if args.train:
            cached(args.cache, args.train, models[args.train])
            return
        teacher, reference = (cached(args.cache, name, train) for name, train in models.items())
        oracle = Oracle(reference, principles)
        print(f"teacher val {teacher.loss(splits['validation'][:20000]):.3f}, reference val "
              f"{reference.loss(splits['validation'][:20000]):.3f} nats/char ({time.perf_counter() - start_time:.0f} s)",
              flush=True)
        results = []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            rng = np.random.default_rng(seed)
            start = LanguageModel(tokenizer, context=64, layers=2, width=64, heads=4, seed=seed)
            start.fit(splits["train"], steps=args.steps, batch_size=16, lr=3e-3, seed=seed)
            chosen = [train_prompts[i] for i in rng.choice(len(train_prompts), args.pairs + args.train_prompts,
                                                           replace=False)]
            pairs = preference_pairs(start, chosen[:args.pairs], max_tokens=160, seed=seed * 7919)
            panel = [LikelihoodJudge(teacher), ConstitutionJudge(principles)]
            rows = judge_text_pairs(panel, chosen[:args.pairs], pairs)
            for key in ("p_first", "likelihood_p_first", "constitution_p_first"):
                agree, compared = oracle_agreement(rows, key, oracle)
                print(f"seed {seed}: judge {key.removesuffix('_p_first').removesuffix('p_first') or 'panel'} agrees "
                      f"with the oracle on {agree}/{compared}", flush=True)
            reward, report = train_text_reward(mlp.build((len(FEATURES),), 1, hidden=(32, 32), seed=seed), rows, teacher,
                                               epochs=100, lr=3e-3, seed=seed)
            print(f"  reward model: {report['labels']} labels, held-out accuracy {report['val_accuracy']:.2f}", flush=True)
            learned = judge_text_pairs([RewardJudge(reward, teacher)], chosen[:args.pairs], pairs)
            agree, compared = oracle_agreement(learned, "p_first", oracle)
            print(f"  learned judge agrees with the oracle on {agree}/{compared} (its training pairs)", flush=True)
            result = {"seed": seed}
            for arm, n in (("best-of-n", args.n), ("control", 1)):
                lm = clone(start)
                history = improve_text(lm, chosen[args.pairs:], reward, teacher, splits["train"], principles, n=n,
                                       rounds=args.rounds, seed=seed)
                wins = win_rate(lm, start, held_out, oracle, seed=seed * 31)
                result[arm] = {k: wins[k] for k in ("wins", "losses", "ties", "violation_rate", "start_violation_rate")}
                print(f"  {arm}: wins {wins['wins']}, losses {wins['losses']}, ties {wins['ties']}: {wins['win_rate']}; "
                      f"violations {wins['start_violation_rate']:.2f} → {wins['violation_rate']:.2f}; "
                      f"kept reward {[round(h['reward_kept'], 2) for h in history]}", flush=True)
                if arm == "best-of-n":
                    print(f"  before: {wins['examples'][0][0]!r}\n  after:  {wins['examples'][0][1]!r}", flush=True)
            results.append(result)
            if args.cache:
                (args.cache / f"seed-{seed}.json").write_text(json.dumps(result))
    print(f"elapsed {time.perf_counter() - start_time:.0f} s")
    summarize(results)


def trained(tokenizer: Tokenizer, splits: dict[str, str], layers: int, width: int, steps: int, seed: int) -> LanguageModel:
    lm = LanguageModel(tokenizer, context=64, layers=layers, width=width, heads=4, seed=seed)
    lm.fit(splits["train"], steps=steps, batch_size=16, lr=2e-3, seed=seed)
    return lm


def cached(folder: Path | None, name: str, train: Callable[[], LanguageModel]) -> LanguageModel:
    """The LM saved as ``folder/name.safetensors``, trained and saved when missing."""
    path = folder / f"{name}.safetensors" if folder else None
    if path is not None and path.is_file():
        return nn.load(path)
    lm = train()
    if path is not None:
        folder.mkdir(parents=True, exist_ok=True)
        lm.save(path)
    return lm


def summarize(results: list[dict]) -> None:
    for arm in ("best-of-n", "control"):
        rs = [r[arm] for r in results]
        rates = [stats.paired_win_rate(r["wins"], r["losses"], r["ties"]).estimate for r in rs]
        pooled = stats.paired_win_rate(sum(r["wins"] for r in rs), sum(r["losses"] for r in rs), sum(r["ties"] for r in rs))
        print(f"{arm}: win rate per seed {[round(x, 3) for x in rates]}; mean over seeds {stats.mean_interval(rates)}; "
              f"pooled {pooled} (target ≥ 0.65); violations start "
              f"{stats.mean_interval([r['start_violation_rate'] for r in rs])} → {stats.mean_interval([r['violation_rate'] for r in rs])}")


if __name__ == "__main__":
    main()
