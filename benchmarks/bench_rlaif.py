"""RLAIF against RLHF on Reach, scored by the oracle: judges, reward models, improved policies, label cost.

One seed per invocation (each well under ten minutes); ``--combine`` pools the seeds' JSON files:

    python benchmarks/bench_rlaif.py --seed 0 --out rlaif-0.json   # and 1, 2
    python benchmarks/bench_rlaif.py --combine rlaif-*.json

Per seed: a deliberately unpolished student (BC on ``--demos`` short expert demonstrations); pairs
of two samples of its Gaussian version on the same scenario; AI labels from the ``expert`` judge,
human-style labels from the oracle as a noisy rater (Boltzmann, temperature 0.1 of the returns'
spread); a Bradley–Terry reward model from each at the same label budget (model size chosen on
validation labels); iterated best-of-n (or ``--method rwr``) against each, with a trust region of
start-labelled states (``--anchor``); win rate of each improved policy against the
start on held-out scenarios, judged by the oracle. Judges are scored on held-out pairs whose oracle
returns differ by more than the noise level. The ``model`` judge is the AI reward model.

``--dpo-only`` runs only DPO straight from each pipeline's labels, for each ``--dpo-grid`` setting,
on the validation scenarios (to choose β / epochs / lr) or, once, on the test scenarios:

    python benchmarks/bench_rlaif.py --dpo-only --split validation --seed 0 --dpo-grid 0.02:30:1e-4 0.05:10:1e-4
    python benchmarks/bench_rlaif.py --dpo-only --split test --seed 0 --dpo-grid 0.02:30:1e-4 --out test-0.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import tutelage.worlds  # noqa: F401  (registers the worlds)
from tutelage.judging import agreement, calibration, judge_pairs, judge_stats
from tutelage.methods.bc import train_supervised
from tutelage.methods.dpo import dpo
from tutelage.methods.improve import METHODS, divergence, improve, overoptimization, win_rate
from tutelage.methods.preferences import GaussianPolicy, _Recorder, collect_pairs, judge_dataset, load_dataset, play
from tutelage.methods.reward import input_size, train_reward_model
from tutelage.plugins import get_host
from tutelage.rollouts.plan import EpisodePlanner
from tutelage.rollouts.rollout import make_env
from tutelage.sim.scenarios import sampler_for
from tutelage.stats import difference_of_proportions, mean_interval, paired_win_rate, wilson

NOISE = 0.1  # the noisy rater's temperature, in units of the spread of oracle returns
CANDIDATES = (("step", (32,)), ("trajectory", (8,)))  # reward-model shapes, chosen on validation labels


def student_of(host, world: str, demos: int, seed: int, max_steps: int):
    expert = host.registry("teachers").get(host.registry("worlds").get(world).expert)()
    env = _Recorder(make_env(world, max_steps=max_steps))
    shown = [play(env, expert, plan, str(plan.index)) for plan in EpisodePlanner(sampler_for(world)).plans(1000 + seed, demos)]
    env.close()
    X, Y = np.concatenate([t.observations for t in shown]), np.concatenate([t.actions for t in shown])
    student = host.registry("model_types").get("mlp").build((X.shape[1],), Y.shape[1], hidden=(64, 64), seed=seed,
                                                            output_activation="tanh")
    train_supervised(student, X, Y, epochs=200, standardize=True, seed=seed)
    return student


def reward_model(host, rows, trajectories, seed: int, folder: Path):
    """The candidate with the best validation accuracy on the judge's own labels."""
    best = None
    for mode, hidden in CANDIDATES:
        model = host.registry("model_types").get("mlp").build((input_size(next(iter(trajectories.values())), mode),), 1,
                                                              hidden=hidden, seed=seed)
        reward, report = train_reward_model(model, rows, trajectories, mode=mode, epochs=30 if mode == "step" else 60,
                                            seed=seed)
        if best is None or report["val_accuracy"] > best[1]["val_accuracy"]:
            best = (reward, {k: v for k, v in report.items() if k not in ("loss", "val_loss", "held_out")}
                    | {"hidden": list(hidden)})
    return best


def dpo_run(args, world, student, folder: Path, plans, oracle, setting) -> dict:
    """DPO of ``student`` straight from a preference dataset's labels (no reward model), scored against
    the start on ``plans`` by the oracle."""
    beta, epochs, lr = setting[:3]
    rows, trajectories = load_dataset(folder)
    used = [r for r in rows if r["choice"] != "abstain"]
    t0 = time.perf_counter()
    policy, report = dpo(student, [(trajectories[r["first_id"]], trajectories[r["second_id"]]) for r in used],
                         [r["p_first"] for r in used], beta=beta, sigma=args.sigma, epochs=epochs, lr=lr,
                         seed=args.seed)
    visited = np.concatenate([t.observations for t in trajectories.values()])
    return {"rounds": [{**report, **divergence(policy, student, visited, args.sigma)}], "seconds": time.perf_counter() - t0,
            "beta": beta, "epochs": epochs, "lr": lr,
            **win_rate(world, policy, student, plans, oracle, max_steps=args.max_steps)}


def dpo_only(args) -> dict:
    """DPO from the AI labels and from the noisy-oracle labels at the same budget, for each setting of
    ``--dpo-grid``, on the validation scenarios (training split, episodes from 100,000 of run seed
    ``seed + 900``: apart from every label, improvement and test plan) or on the test scenarios."""
    host = get_host()
    judges = host.registry("judges")
    world, seed, steps = args.world, args.seed, args.max_steps
    out: dict = {"seed": seed, "world": world, "labels": args.labels, "split": args.split}
    started = time.perf_counter()
    student = student_of(host, world, args.demos, seed, steps)
    stochastic = GaussianPolicy(student, args.sigma)
    pairs = collect_pairs(world, stochastic, stochastic, EpisodePlanner(sampler_for(world)).plans(seed, args.labels),
                          max_steps=steps, prefix="train-")
    oracle_judge = judges.get("oracle")(world=world)
    oracle = lambda t: oracle_judge.score(None, t)  # noqa: E731
    spread = float(np.std([oracle(t) for p in pairs for t in (p.first, p.second)]))
    labellers = {"rlaif": judges.get("expert")(world=world),
                 "rlhf": judges.get("oracle")(world=world, temperature=NOISE, spread=spread, seed=seed)}
    truth = {p.first.id: (oracle(p.first), oracle(p.second)) for p in pairs}
    for name, judge in labellers.items():
        folder = Path(args.work) / f"seed{seed}-{name}"
        judge_dataset(judge, pairs, folder, judge_name=name)
        rows = [(r["p_first"], *truth[r["first_id"]]) for r in load_dataset(folder)[0]]
        right = [(p > 0.5) == (a > b) for p, a, b in rows if abs(a - b) > NOISE * spread and p != 0.5]
        out[f"labels_{name}"] = {"agree": int(sum(right)), "compared": len(right)}
    out["seconds_labels"] = time.perf_counter() - started
    if args.split == "validation":
        plans = EpisodePlanner(sampler_for(world)).plans(seed + 900, args.val_scenarios, start=100_000)
    else:
        plans = EpisodePlanner(sampler_for(world), split="held-out").plans(seed, args.held_out)[args.test_pairs:]
    out["runs"] = [{"labels": name, **dpo_run(args, world, student, Path(args.work) / f"seed{seed}-{name}", plans,
                                              oracle, setting)}
                   for *setting, only in args.dpo_grid for name in args.dpo_labels if only in (None, name)]
    out["seconds"] = time.perf_counter() - started
    return out


def one_seed(args) -> dict:
    host = get_host()
    judges = host.registry("judges")
    world, seed, steps = args.world, args.seed, args.max_steps
    out: dict = {"seed": seed, "world": world, "labels": args.labels}
    started = time.perf_counter()
    student = student_of(host, world, args.demos, seed, steps)
    stochastic = GaussianPolicy(student, args.sigma)
    train_plans = EpisodePlanner(sampler_for(world)).plans(seed, args.labels)
    pairs = collect_pairs(world, stochastic, stochastic, train_plans, max_steps=steps, prefix="train-")
    oracle_judge = judges.get("oracle")(world=world)
    oracle = lambda t: oracle_judge.score(None, t)  # noqa: E731
    spread = float(np.std([oracle(t) for p in pairs for t in (p.first, p.second)]))
    labellers = {"rlaif": judges.get("expert")(world=world),
                 "rlhf": judges.get("oracle")(world=world, temperature=NOISE, spread=spread, seed=seed)}
    rewards = {}
    for name, judge in labellers.items():
        folder = Path(args.work) / f"seed{seed}-{name}"
        judge_dataset(judge, pairs, folder, judge_name=name)
        rows, trajectories = load_dataset(folder)
        rewards[name], out[f"reward_{name}"] = reward_model(host, rows, trajectories, seed, folder)
    out["seconds_labels_and_rewards"] = time.perf_counter() - started

    held = EpisodePlanner(sampler_for(world), split="held-out").plans(seed, args.held_out)
    test_pairs = collect_pairs(world, stochastic, stochastic, held[:args.test_pairs], max_steps=steps, prefix="test-")
    contexts, items = [p.context for p in test_pairs], [(p.first, p.second) for p in test_pairs]
    returns = np.array([[oracle(a), oracle(b)] for a, b in items])
    noise_level = NOISE * spread
    clear = np.abs(returns[:, 0] - returns[:, 1]) > noise_level
    out["noise_level"], out["clear_pairs"] = noise_level, int(clear.sum())
    scored = {"oracle": oracle_judge, "expert": labellers["rlaif"], "model": judges.get("model")(reward=rewards["rlaif"]),
              "noisy-oracle": labellers["rlhf"]}
    truth = None
    for name, judge in scored.items():
        t0 = time.perf_counter()
        judged = judge_pairs(judge, contexts, items)
        seconds = time.perf_counter() - t0
        verdicts = [j.verdict for j in judged]
        truth = verdicts if name == "oracle" else truth
        agree, compared = agreement([v for v, c in zip(verdicts, clear) if c], [v for v, c in zip(truth, clear) if c])
        stats = judge_stats(judged)
        strict = [(v.p_first, r[0] > r[1]) for v, r, c in zip(verdicts, returns, clear) if c and v.p_first is not None]
        out[f"judge_{name}"] = {"agree": agree, "compared": compared, **stats.as_dict(),
                                "pairs_per_second": len(items) / seconds, "seconds_per_label": seconds / len(items),
                                "calibration": calibration(*zip(*strict)) if strict else []}

    improve_plans = EpisodePlanner(sampler_for(world)).plans(seed + 500, args.improve_scenarios)
    eval_plans = held[args.test_pairs:]
    for name, reward in rewards.items():
        t0 = time.perf_counter()
        policy, rounds = improve(student, world, improve_plans, reward, method=args.method, n=args.n, sigma=args.sigma,
                                 rounds=args.rounds, epochs=args.epochs, lr=args.lr, max_steps=steps, seed=seed,
                                 anchor=args.anchor)
        out[f"improve_{name}"] = {"rounds": rounds, "seconds": time.perf_counter() - t0,
                                  **win_rate(world, policy, student, eval_plans, oracle, max_steps=steps)}
    if args.dpo_beta:  # DPO straight from the AI judge's labels, no reward model
        out["improve_dpo"] = dpo_run(args, world, student, Path(args.work) / f"seed{seed}-rlaif", eval_plans, oracle,
                                     (args.dpo_beta, args.dpo_epochs, args.dpo_lr))
    if args.curve_scenarios:
        out["overoptimization"] = overoptimization(world, student, held[-args.curve_scenarios:], rewards["rlaif"], oracle,
                                                   sigma=args.sigma, max_steps=steps)
    out["seconds"] = time.perf_counter() - started
    return out


def combine_dpo(runs: list[dict]) -> None:
    """Pool ``--dpo-only`` files: win rate of each (labels, setting) over seeds; on the test split also
    RLAIF − RLHF (Newcombe interval on the pooled pairs; mean over seeds with a t interval)."""
    pooled: dict = {}
    for run in runs:
        for r in run["runs"]:
            pooled.setdefault((r["labels"], r["beta"], r["epochs"], r["lr"]), []).append((run["seed"], r))
    print(f"split {sorted({r['split'] for r in runs})}; seeds {sorted({r['seed'] for r in runs})}; "
          f"{runs[0]['labels']} labels per pipeline")
    for run in sorted(runs, key=lambda r: r["seed"]):
        print(f"  seed {run['seed']}: label agreement with the oracle (clear training pairs) "
              + ", ".join(f"{n} {wilson(run[f'labels_{n}']['agree'], run[f'labels_{n}']['compared']).percent()}"
                          for n in ("rlaif", "rlhf"))
              + f"; start's mean oracle return {run['runs'][0]['start_return']:+.3f}")
    print("labels  beta  epochs  lr      win rate vs the start (paired, ties half)  per seed            gain    KL")
    rates = {}
    for key, items in sorted(pooled.items()):
        w, l, t = (sum(r[k] for _, r in items) for k in ("wins", "losses", "ties"))
        rates[key] = (paired_win_rate(w, l, t), items)
        per_seed = " ".join(f"{r['win_rate']:.2f}" for _, r in sorted(items, key=lambda x: x[0]))
        print(f"{key[0]:6s} {key[1]:5.2f}  {key[2]:4d}  {key[3]:.0e}  {rates[key][0].percent():40s}  {per_seed:18s}  "
              f"{np.mean([r['mean_gain'] for _, r in items]):+.3f}  {np.mean([r['rounds'][0]['kl'] for _, r in items]):.2f}")
    for name in ("rlaif", "rlhf"):
        keys = [k for k in rates if k[0] == name]
        if keys:
            best = max(keys, key=lambda k: rates[k][0].estimate)
            print(f"best {name}: beta {best[1]}, epochs {best[2]}, lr {best[3]}: {rates[best][0].percent()}")
    if len(rates) == 2 and {k[0] for k in rates} == {"rlaif", "rlhf"}:
        (ai, ai_items), (hf, hf_items) = (next(v for k, v in rates.items() if k[0] == n) for n in ("rlaif", "rlhf"))
        gap = difference_of_proportions(round(ai.estimate * ai.n), ai.n, round(hf.estimate * hf.n), hf.n)
        by_seed = dict((s, r["win_rate"]) for s, r in hf_items)
        seeds = mean_interval([r["win_rate"] - by_seed[s] for s, r in ai_items])
        print(f"RLAIF - RLHF: {100 * gap.estimate:+.1f} points [{100 * gap.low:+.1f}, {100 * gap.high:+.1f}] (pooled pairs); "
              f"over seeds {100 * seeds.estimate:+.1f} [{100 * seeds.low:+.1f}, {100 * seeds.high:+.1f}]")


def combine(paths: list[str]) -> None:
    runs = [json.loads(Path(p).read_text()) for p in paths]
    if "runs" in runs[0]:
        combine_dpo(runs)
        return
    print(f"{len(runs)} seeds: {[r['seed'] for r in runs]}; {runs[0]['labels']} labels each; world {runs[0]['world']}")
    print(f"noise level (oracle units) {[round(r['noise_level'], 3) for r in runs]}; clear held-out pairs "
          f"{[r['clear_pairs'] for r in runs]}")
    print("\njudge          agreement with the oracle (clear pairs)   position consistency  abstain   pairs/s   s/label")
    for name in ("expert", "model", "noisy-oracle", "oracle"):
        js = [r[f"judge_{name}"] for r in runs]
        agree, compared = sum(j["agree"] for j in js), sum(j["compared"] for j in js)
        speed = np.median([j["pairs_per_second"] for j in js])
        print(f"{name:14s} {wilson(agree, compared).percent():40s}  {100 * np.mean([j['position_consistency'] for j in js]):6.1f} %"
              f"          {100 * np.mean([j['abstain_rate'] for j in js]):5.1f} %  {speed:8.1f}  "
              f"{np.median([j['seconds_per_label'] for j in js]):.2e}")
    ratio = np.median([r["judge_expert"]["seconds_per_label"] / r["judge_model"]["seconds_per_label"] for r in runs])
    print(f"model judge cheaper per label than the expert judge it was trained from: {ratio:.1f}x (median over seeds)")
    print("\nreward models (validation accuracy on their own labels, shape chosen there):")
    for name in ("rlaif", "rlhf"):
        print(f"  {name}: " + ", ".join(f"seed {r['seed']} {r[f'reward_{name}']['mode']} {r[f'reward_{name}']['val_accuracy']:.2f}"
                                        for r in runs))
    print("\nimproved policy vs the start, oracle-judged, paired held-out scenarios (ties count half):")
    rates = {}
    for name in ("rlaif", "rlhf", "dpo"):
        if not all(f"improve_{name}" in r for r in runs):
            continue
        imp = [r[f"improve_{name}"] for r in runs]
        w, l, t = (sum(i[k] for i in imp) for k in ("wins", "losses", "ties"))
        rates[name] = paired_win_rate(w, l, t)
        per_seed = ", ".join(f"{i['win_rate']:.2f}" for i in imp)
        print(f"  {name}: {rates[name].percent()}  (per seed {per_seed}; mean oracle gain "
              f"{mean_interval([i['mean_gain'] for i in imp])}; final KL {[round(i['rounds'][-1]['kl'], 3) for i in imp]}; "
              f"action rms {[round(i['rounds'][-1]['action_rms'], 3) for i in imp]})")
    won = {name: round(rates[name].estimate * rates[name].n) for name in rates}
    gap = difference_of_proportions(won["rlaif"], rates["rlaif"].n, won["rlhf"], rates["rlhf"].n)
    print(f"  RLAIF - RLHF: {100 * gap.estimate:+.1f} points [{100 * gap.low:+.1f}, {100 * gap.high:+.1f}]")
    curve = runs[0].get("overoptimization")
    if curve:
        print("\nover-optimization (seed 0, best-of-n by the AI reward model): n, reward-model score, oracle return")
        for point in curve:
            print(f"  {point['n']:3d}  {point['reward']:8.3f}  {point['oracle']:8.3f}")


def setting(text: str) -> tuple[float, int, float, str | None]:
    """``[LABELS=]BETA:EPOCHS:LR`` of one DPO setting (``rlaif=0.1:10:1e-4``: for those labels only)."""
    labels, _, rest = text.rpartition("=")
    beta, epochs, lr = rest.split(":")
    return float(beta), int(epochs), float(lr), labels or None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--combine", nargs="+", metavar="JSON")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="rlaif.json")
    parser.add_argument("--work", default="benchmarks/.out/rlaif", help="folder for the preference datasets")
    parser.add_argument("--world", default="tutelage/Reach-v0")
    parser.add_argument("--demos", type=int, default=20)
    parser.add_argument("--labels", type=int, default=200)
    parser.add_argument("--sigma", type=float, default=0.1)
    parser.add_argument("--max-steps", type=int, default=60)
    parser.add_argument("--held-out", type=int, default=200, help="held-out scenarios: test pairs, then win-rate episodes")
    parser.add_argument("--test-pairs", type=int, default=100)
    parser.add_argument("--improve-scenarios", type=int, default=48)
    parser.add_argument("--method", default="best_of_n", choices=METHODS)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--anchor", type=float, default=3.0, help="start-labelled states per kept step")
    parser.add_argument("--dpo-beta", type=float, default=0.0, help="> 0: also DPO on the AI labels with this β")
    parser.add_argument("--dpo-epochs", type=int, default=10)
    parser.add_argument("--dpo-lr", type=float, default=1e-4)
    parser.add_argument("--curve-scenarios", type=int, default=4)
    parser.add_argument("--dpo-only", action="store_true",
                        help="only DPO from each pipeline's labels, for each --dpo-grid setting, on --split")
    parser.add_argument("--dpo-grid", type=setting, nargs="+", default=[(0.05, 10, 1e-4, None)],
                        metavar="[LABELS=]BETA:EPOCHS:LR")
    parser.add_argument("--dpo-labels", nargs="+", default=["rlaif", "rlhf"], choices=("rlaif", "rlhf"))
    parser.add_argument("--split", default="validation", choices=("validation", "test"))
    parser.add_argument("--val-scenarios", type=int, default=60)
    args = parser.parse_args()
    if args.dpo_only:
        result = dpo_only(args)
        Path(args.out).write_text(json.dumps(result, indent=1, default=float))
        for run in result["runs"]:
            print(f"{run['labels']} beta {run['beta']} epochs {run['epochs']} lr {run['lr']}: win {run['win_rate']:.3f} "
                  f"({run['wins']}-{run['losses']}-{run['ties']}) gain {run['mean_gain']:+.3f} "
                  f"kl {run['rounds'][0]['kl']:.3f} {run['seconds']:.0f}s")
        print(f"label agreement with the oracle on clear training pairs: "
              + ", ".join(f"{n} {result[f'labels_{n}']['agree']}/{result[f'labels_{n}']['compared']}" for n in ("rlaif", "rlhf"))
              + f"; labels {result['seconds_labels']:.0f}s, total {result['seconds']:.0f}s")
        return
    if args.combine:
        combine(args.combine)
        return
    result = one_seed(args)
    Path(args.out).write_text(json.dumps(result, indent=1, default=float))
    print(json.dumps({k: v for k, v in result.items() if not k.startswith(("judge_", "improve_", "over"))}, default=float))


if __name__ == "__main__":
    main()
