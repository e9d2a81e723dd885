"""``tutelage collapse``: the model-collapse lab from the command line (tables, Parquet, PNG plots)."""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tutelage.errors import SpecError

NAME = "collapse"
HELP = "model collapse: generations of fit → sample → refit under replace / accumulate / fresh-data regimes"

#: axis labels (with units) of the plotted metrics
LABELS = {
    "real_nll": "held-out real NLL (nats per row)",
    "var_ratio": "covariance trace / real (ratio)",
    "tail2": "sample coordinates beyond 2σ (share)",
    "tail3": "sample coordinates beyond 3σ (share)",
    "diversity": "mean pairwise distance / real (ratio)",
    "rarest_class": "rarest digit class among samples (share)",
    "frechet": "Fréchet distance, classifier features (squared units)",
}


GRID_SAMPLES = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", default="gaussian", choices=["gaussian", "mixture", "digits"],
                        help="real data and model: gaussian (MLE), mixture (2-D GMM), digits (VAE)")
    parser.add_argument("--regimes", default="replace,accumulate,accumulate-subsample,fresh=0.1",
                        help="comma-separated: replace, accumulate, accumulate-subsample, fresh=λ")
    parser.add_argument("--generations", type=int, default=10, help="refits after generation 0 (default 10)")
    parser.add_argument("--seeds", type=int, default=5, help="independent chains per regime (default 5)")
    parser.add_argument("--n", type=int, default=100, help="rows per generation (default 100)")
    parser.add_argument("--dim", type=int, default=1, help="dimensions of the gaussian source (default 1)")
    parser.add_argument("--min-real-fraction", type=float, default=0.1, help="collapse guard policy (default 0.1)")
    parser.add_argument("--max-depth", type=int, default=3, help="collapse guard policy (default 3)")
    parser.add_argument("--drift", type=float, default=0.05,
                        help="drift alarm: relative rise of held-out real NLL over generation 0 (default 0.05)")
    parser.add_argument("--out", default="collapse-results", help="folder for results.parquet, bands.parquet and plots")


def run(args: argparse.Namespace) -> int:
    from tutelage.methods import collapse
    from tutelage.methods.collapse_guard import CollapseGuard

    if args.seeds < 2:
        raise SpecError(f"--seeds {args.seeds}: need at least 2 seeds for intervals")
    if args.dim < 1:
        raise SpecError(f"--dim {args.dim}: must be positive")
    regimes = [collapse.Regime.parse(text) for text in args.regimes.split(",") if text.strip()]
    from tutelage.plugins import registry

    model_types = registry("model_types", args.plugin)
    source = (collapse.gaussian_source(model_types, args.dim) if args.source == "gaussian"
              else collapse.SOURCES[args.source](model_types))
    guard = CollapseGuard(args.min_real_fraction, args.max_depth, "warn")
    grids: dict[str, list[Any]] = {}

    def keep_samples(regime: Any, seed: int, generation: int, model: Any) -> None:
        if seed == 0:
            grids.setdefault(regime.name, []).append(model.sample(GRID_SAMPLES, seed=0))

    rows = collapse.relative_nll(collapse.run(source, regimes, generations=args.generations,
                                              seeds=range(args.seeds), n=args.n, guard=guard, drift=args.drift,
                                              on_model=keep_samples if args.source == "digits" else None))
    bands = collapse.bands(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_table(rows, out / "results.parquet")
    write_table(bands, out / "bands.parquet")
    plots = plot_bands(bands, out, source.name) + [plot_digit_grid(samples, out, regime)
                                                   for regime, samples in grids.items()]
    print_tables(rows, regimes, args.generations)
    timing = collapse.guard_timing(rows)
    in_time = sum(t["in_time"] for t in timing if t["regime"] == "replace")
    chains = sum(t["regime"] == "replace" for t in timing)
    if chains:
        print(f"collapse guard fired before held-out real NLL degraded by 10 % in {in_time} of {chains} replace chains")
    print(f"wrote {out / 'results.parquet'}, {out / 'bands.parquet'} and {len(plots)} plots to {out}")
    return 0


def write_table(rows: Sequence[dict[str, Any]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tutelage import fileio

    with fileio.atomic_path(path) as tmp:
        pq.write_table(pa.Table.from_pylist(list(rows)), tmp)


def print_tables(rows: Sequence[dict[str, Any]], regimes: Sequence[Any], generations: int) -> None:
    from rich.console import Console
    from rich.table import Table

    from tutelage.methods.collapse import METRICS, interval_text

    metrics = [m for m in METRICS if m in rows[0]]
    console = Console(highlight=False)
    for regime in regimes:
        table = Table(title=f"{rows[0]['source']} · {regime.name} · mean ±95 % CI over {len({r['seed'] for r in rows})} seeds")
        for column in ("gen", "synth", "depth", *metrics):
            table.add_column(column, justify="right")
        for g in range(generations + 1):
            members = [r for r in rows if r["regime"] == regime.name and r["generation"] == g]
            table.add_row(str(g), f"{members[0]['synthetic_share']:.0%}", str(members[0]["synthetic_depth"]),
                          *(interval_text([r[m] for r in members]) for m in metrics))
        console.print(table)


def plot_bands(bands: Sequence[dict[str, Any]], out: Path, source: str) -> list[Path]:
    """One PNG per metric: mean over seeds against generation, with the 95 % band, one line per regime."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from tutelage import fileio

    paths = []
    for metric in dict.fromkeys(b["metric"] for b in bands):
        fig, ax = plt.subplots(figsize=(6, 4))
        for regime in dict.fromkeys(b["regime"] for b in bands):
            line = sorted((b for b in bands if b["metric"] == metric and b["regime"] == regime),
                          key=lambda b: b["generation"])
            gens = [b["generation"] for b in line]
            ax.plot(gens, [b["estimate"] for b in line], marker="o", ms=3, label=regime)
            ax.fill_between(gens, [b["low"] for b in line], [b["high"] for b in line], alpha=0.2)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("generation (refits on model output)")
        ax.set_ylabel(LABELS.get(metric, metric))
        ax.set_title(f"{source}: {metric}")
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out / f"{metric}.png"
        with fileio.atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def plot_digit_grid(samples: Sequence[Any], out: Path, regime: str) -> Path:
    """The photocopy picture: a row of 8×8 digit samples (same latent seed) per generation of the first chain."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tutelage import fileio

    fig, axes = plt.subplots(len(samples), GRID_SAMPLES, figsize=(GRID_SAMPLES * 0.6, len(samples) * 0.6),
                             squeeze=False)
    for g, row in enumerate(samples):
        for i, ax in enumerate(axes[g]):
            ax.imshow(row[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[g][0].set_ylabel(f"gen {g}", rotation=0, ha="right", va="center", fontsize=7)
    fig.suptitle(f"digits · {regime}: VAE samples per generation (seed 0)", fontsize=8)
    path = out / f"samples-{regime}.png"
    with fileio.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path
