"""Token KD with the teacher online vs from its stored top-k logits (offline), on a slice of the pydoc corpus.

    python benchmarks/bench_text_kd_offline.py [--chars 50000] [--teacher-steps 300] [--steps 200] [--seeds 3] [--k 8]
        [--temperature 2] [--alpha 0.9]

The teacher trains once; per seed three students of the same initialization
train ``--steps`` Adam steps: corpus only, online KD (all tokens, and the
teacher's top k only) and offline top-k KD (T, alpha fixed by ``--temperature``
and ``--alpha``, not tuned). Prints seconds per student training
run (offline: plus the one-time cost of storing the targets) and the share of
the corpus-only student's test-loss gap to the teacher each KD arm closes
(mean and 95 % interval over seeds).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from tutelage import stats
from tutelage.data.text import pydoc_splits
from tutelage.methods.text_topk import read_topk_targets, write_topk_targets
from tutelage.nn.language import LanguageModel, Tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in (("chars", 50_000), ("teacher-steps", 300), ("steps", 200), ("seeds", 3), ("k", 8)):
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--temperature", type=float, default=2.0)
    parser.add_argument("--alpha", type=float, default=0.9)
    args = parser.parse_args()
    splits = pydoc_splits(seed=0)
    tokenizer = Tokenizer.for_text("".join(splits.values()))
    train, test = splits["train"][:args.chars], splits["test"][:10_000]
    kd = dict(temperature=args.temperature, alpha=args.alpha)
    common = dict(steps=args.steps, batch_size=16, lr=3e-3)
    with threadpool_limits(1), tempfile.TemporaryDirectory() as tmp:
        teacher = LanguageModel(tokenizer, context=32, layers=2, width=64, heads=4, seed=0)
        teacher.fit(train, steps=args.teacher_steps, batch_size=16, lr=3e-3, seed=0)
        start = time.perf_counter()
        write_topk_targets(teacher, train, Path(tmp) / "topk.parquet", k=args.k, teacher_id="teacher")
        targets = read_topk_targets(Path(tmp) / "topk.parquet")
        store = time.perf_counter() - start
        seconds: dict[str, list[float]] = {}
        loss: dict[str, list[float]] = {}
        for seed in range(args.seeds):
            for arm, extra in (("corpus", {}), ("online", dict(teacher=teacher, **kd)),
                               (f"online k={args.k}", dict(teacher=teacher, top_k=args.k, **kd)),
                               (f"offline k={args.k}", dict(teacher=targets, **kd))):
                student = LanguageModel(tokenizer, context=32, layers=1, width=16, heads=2, seed=seed)
                start = time.perf_counter()
                student.fit(train, seed=seed, **common, **extra)
                seconds.setdefault(arm, []).append(time.perf_counter() - start)
                loss.setdefault(arm, []).append(student.loss(test))
    teacher_loss = teacher.loss(test)
    corpus = np.array(loss["corpus"])
    print(f"teacher test loss {teacher_loss:.4f} nats/char; storing top-{args.k} targets: {store:.1f} s")
    print("arm            s/run (median)  test loss (mean [95 %])          gap closed (mean [95 %])")
    for arm in loss:
        gap = "" if arm == "corpus" else stats.mean_interval((corpus - np.array(loss[arm])) / (corpus - teacher_loss))
        print(f"{arm:14s} {np.median(seconds[arm]):8.2f}        {stats.mean_interval(loss[arm])}   {gap}")


if __name__ == "__main__":
    main()
