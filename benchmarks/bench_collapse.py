"""Model collapse, measured: the three papers' findings with intervals over seeds, the Gaussian closed form, the guard.

For each source (1-D Gaussian MLE, 2-D Gaussian mixture by EM, digits by a VAE)
it runs replace, accumulate, accumulate-subsample and fresh=0.1 / 0.2 and prints,
with 95 % intervals over seeds (paired on the seed, last generation minus
generation 0: the mean change, Student t, and the share of seeds in which the
metric moved that way, Wilson; "significant" when that share's interval lies
above one half):

* replace: change of held-out real NLL, variance ratio and tail mass (2σ, 3σ; around the real mean and around
  the samples' own mean);
* accumulate: the worst relative NLL change over all generations (target ≤ 10 %);
* fresh=λ: relative NLL change at the last generation vs at mid-run (bounded = no significant growth);
* the Gaussian closed form E[σ̂²_g]/σ² = ((n − 1)/n)^(g + 1) over many chains;
* when the collapse guard and the drift alarm fire under replace vs when real NLL is 10 % worse.

    python benchmarks/bench_collapse.py --seeds 5 --generations 10 --sources gaussian=20,mixture=100,digits=500
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from tutelage.methods import collapse
from tutelage.plugins import registry
from tutelage.stats import mean_interval, paired_win_rate

REGIMES = ["replace", "accumulate", "accumulate-subsample", "fresh=0.1", "fresh=0.2"]


def differences(rows, regime, metric, last, first=0, relative=False):
    """Per seed ``metric[last] − metric[first]`` (relative to ``|metric[first]|`` if asked)."""
    by_seed = {}
    for r in rows:
        if r["regime"] == regime and r["generation"] in (first, last):
            by_seed.setdefault(r["seed"], {})[r["generation"]] = r[metric]
    return [(v[last] - v[first]) / (abs(v[first]) if relative else 1.0) for v in by_seed.values()]


def paired(rows, regime, metric, last, first=0, relative=False):
    return mean_interval(differences(rows, regime, metric, last, first, relative))


def direction(diffs, sign):
    """Share of seeds whose metric moved in the ``sign`` direction (ties half), Wilson interval; and a verdict."""
    moved = sum(d * sign > 0 for d in diffs)
    share = paired_win_rate(moved, sum(d * sign < 0 for d in diffs), sum(d == 0 for d in diffs))
    return share, "significant" if share.low > 0.5 else "not significant"


def report(source, rows, generations, regimes):
    g = generations
    print(f"\n## {source.name}: {len(set(r['seed'] for r in rows))} seeds, {g} generations")
    print("replace, generation {g} − generation 0 (mean [95 % CI]):".format(g=g))
    for metric, sign in (("real_nll", 1), ("var_ratio", -1), ("tail2", -1), ("tail3", -1), ("tail2_centred", -1),
                         ("tail3_centred", -1), ("diversity", -1), ("rarest_class", -1), ("frechet", 1)):
        if metric in rows[0]:
            diffs = differences(rows, "replace", metric, g)
            share, word = direction(diffs, sign)
            print(f"  {metric:13} mean change {str(mean_interval(diffs)):36} {'rose' if sign > 0 else 'fell'} in "
                  f"{share.percent()} of seeds: {word}")
    logs = [np.log(r["var_ratio"]) for r in rows if r["regime"] == "replace" and r["generation"] == g]
    print(f"  log var_ratio at generation {g}: {mean_interval(logs)} (0 = no shrinkage)")
    changed = collapse.relative_nll(rows)
    for regime in [r for r in regimes if r != "replace"]:
        worst = max((mean_interval([r["nll_change"] for r in changed if r["regime"] == regime and r["generation"] == k])
                     for k in range(1, g + 1)), key=lambda iv: iv.estimate)
        late = paired(rows, regime, "real_nll", g, g // 2, relative=True)
        print(f"  {regime:21} worst mean NLL change {worst.estimate:+.1%} [{worst.low:+.1%}, {worst.high:+.1%}]; "
              f"gen {g} vs gen {g // 2}: {late.estimate:+.1%} [{late.low:+.1%}, {late.high:+.1%}]")
    timing = [t for t in collapse.guard_timing(rows) if t["regime"] == "replace"]
    degraded = [t for t in timing if t["degraded"] is not None]
    print(f"  guard (min_real_fraction 0.1) in time in {sum(t['in_time'] for t in timing)}/{len(timing)} replace chains "
          f"(first fires at generation {sorted({t['guard_fires'] for t in timing})}); real NLL > +10 % in "
          f"{len(degraded)}/{len(timing)} chains, first at generations {sorted(t['degraded'] for t in degraded)}; "
          f"drift alarm (+5 %) before or at that generation in "
          f"{sum(t['drift_alarm_fires'] is not None and t['drift_alarm_fires'] <= t['degraded'] for t in degraded)}"
          f"/{len(degraded)}")


def closed_form(n, generations, chains):
    source = collapse.gaussian_source(registry("model_types"), 1, n_test=100)
    rows = collapse.run(source, ["replace"], generations=generations, seeds=range(chains), n=n, n_eval=20)
    print(f"\n## Gaussian MLE closed form, n = {n}, {chains} chains: E[σ̂²_g]/σ² vs ((n − 1)/n)^(g + 1)")
    inside = 0
    for g in range(generations + 1):
        iv = mean_interval([r["var_ratio"] for r in rows if r["generation"] == g])
        expected = collapse.expected_variance_ratio(n, g)
        inside += iv.low <= expected <= iv.high
        print(f"  gen {g:2}: measured {iv}  expected {expected:.4f}")
    print(f"  expected value inside the 95 % interval in {inside}/{generations + 1} generations")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--generations", type=int, default=10)
    parser.add_argument("--sources", default="gaussian=20,mixture=100,digits=500",
                        help="sources with their rows per generation")
    parser.add_argument("--regimes", default=",".join(REGIMES), help="regimes, comma-separated (replace first)")
    parser.add_argument("--closed-form-chains", type=int, default=1000, help="Gaussian closed-form chains (0: skip)")
    args = parser.parse_args()
    model_types = registry("model_types")
    sources = {"gaussian": collapse.gaussian_source, "mixture": collapse.mixture_source,
               "digits": collapse.digits_source}
    for item in args.sources.split(","):
        name, _, n = item.partition("=")
        make, n = sources[name], int(n)
        start = time.perf_counter()
        source = make(model_types)
        regimes = args.regimes.split(",")
        rows = collapse.run(source, regimes, generations=args.generations, seeds=range(args.seeds), n=n)
        report(source, rows, args.generations, regimes)
        print(f"  ({n} rows per generation; {time.perf_counter() - start:.0f} s)")
    if args.closed_form_chains:
        closed_form(10, args.generations, args.closed_form_chains)


if __name__ == "__main__":
    main()
