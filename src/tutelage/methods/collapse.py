"""The model-collapse lab: generations of fit → sample → refit, measured against held-out real data.

Generation 0 is a model fitted to ``n`` real rows; generation g + 1 is fitted
to data built from generation g's samples under a regime:

``replace``
    only the ``n`` samples of the previous model (Shumailov et al. 2024);
``accumulate``
    all real rows plus every generation's samples so far (Gerstgrasser et al. 2024);
``accumulate-subsample``
    ``n`` rows drawn from that accumulated pool (a fixed budget);
``fresh=λ``
    ``round(λ·n)`` newly drawn real rows plus ``n − round(λ·n)`` samples (Bertrand et al. 2024).

Every generation records held-out real NLL (−ELBO for a VAE), the trace ratio
of the model's covariance to the real one, tail mass beyond 2σ and 3σ (around the real mean, and around the
samples' own mean: ``tail2_centred``, the tails' thickness whatever the drift of the centre), sample
diversity and, for digits, the rarest class's frequency and the Fréchet
distance in the feature space of a classifier trained on real digits; plus
the data's synthetic share and depth and the verdicts of a
:class:`~tutelage.methods.collapse_guard.CollapseGuard` and a
:class:`~tutelage.methods.collapse_guard.DriftAlarm`.

Under ``replace`` with a Gaussian fitted by maximum likelihood, the expected
variance after generation g is ``σ²·((n − 1)/n)^(g + 1)``
(:func:`expected_variance_ratio`).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import linalg

from tutelage.errors import SpecError
from tutelage.generative import GenerativeModel, one_blas_thread
from tutelage.methods.collapse_guard import CollapseGuard, DriftAlarm, relative_change
from tutelage.stats import mean_interval

METRICS = ("real_nll", "var_ratio", "tail2", "tail3", "tail2_centred", "tail3_centred", "diversity", "rarest_class",
           "frechet")
KINDS = ("replace", "accumulate", "accumulate-subsample", "fresh")


# -- regimes --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Regime:
    """How each generation's training data is built (see the module docstring)."""

    kind: str
    fresh: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Regime:
        """``"replace"``, ``"accumulate"``, ``"accumulate-subsample"`` or ``"fresh=0.1"``."""
        kind, _, value = text.strip().partition("=")
        if kind not in KINDS:
            raise SpecError(f"collapse regime {text!r}: must be one of replace, accumulate, accumulate-subsample, "
                            f"fresh=λ")
        if kind == "fresh":
            try:
                fresh = float(value)
            except ValueError:
                raise SpecError(f"collapse regime {text!r}: fresh needs a share, e.g. fresh=0.1") from None
            if not 0.0 < fresh <= 1.0:
                raise SpecError(f"collapse regime {text!r}: the fresh share must be in (0, 1]")
            return cls(kind, fresh)
        if value:
            raise SpecError(f"collapse regime {text!r}: only fresh takes a value")
        return cls(kind)

    @property
    def name(self) -> str:
        return f"fresh={self.fresh:g}" if self.kind == "fresh" else self.kind


# -- metrics (each checked by hand on tiny cases in the tests) ------------------------------------------


def trace_ratio(cov: np.ndarray, reference: np.ndarray) -> float:
    """``tr(cov) / tr(reference)`` (variance ratio in one dimension)."""
    return float(np.trace(np.atleast_2d(cov)) / np.trace(np.atleast_2d(reference)))


def tail_mass(samples: np.ndarray, mean: np.ndarray, std: np.ndarray, k: float) -> float:
    """Share of sample coordinates more than ``k`` real standard deviations from the real mean.

    Coordinates constant in the real data (std 0, e.g. a digit's blank corner pixels) have no tail and are left out.
    """
    varied = np.asarray(std) > 0
    return float(np.mean(np.abs((samples[:, varied] - mean[varied]) / std[varied]) > k))


def mean_pairwise_distance(x: np.ndarray) -> float:
    """Mean Euclidean distance over distinct pairs of rows."""
    x = np.asarray(x, dtype=np.float64)
    sq = (x * x).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0)
    n = x.shape[0]
    return float(np.sqrt(d2)[np.triu_indices(n, 1)].mean()) if n > 1 else 0.0


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """``‖μa − μb‖² + tr(Σa + Σb − 2(Σa Σb)^½)`` between the Gaussians fitted to two sets of feature rows."""
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root = linalg.sqrtm(cov_a @ cov_b)
    root = root.real if np.iscomplexobj(root) else root
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


def rarest_class_frequency(labels: np.ndarray, classes: int) -> float:
    """The smallest share of any of ``classes`` classes among ``labels`` (0 when one is missing)."""
    return float(np.bincount(labels, minlength=classes).min() / max(len(labels), 1))


def expected_variance_ratio(n: int, generation: int) -> float:
    """E[σ̂²_g / σ²] for the Gaussian MLE refitted on ``n`` of its own samples: ``((n − 1)/n)^(g + 1)``."""
    return ((n - 1) / n) ** (generation + 1)


# -- sources --------------------------------------------------------------------------------------------


@dataclass
class Classifier:
    """A classifier trained on real data: ``predict`` labels and ``features`` (its hidden layer)."""

    predict: Callable[[np.ndarray], np.ndarray]
    features: Callable[[np.ndarray], np.ndarray]
    classes: int


@dataclass
class Source:
    """Real data for the lab: ``draw(n, rng)`` real rows, a held-out test set and a model factory.

    ``build(seed)`` returns an unfitted :class:`~tutelage.generative.GenerativeModel`.
    ``reference_cov`` is the real covariance (the true one when known).
    """

    name: str
    draw: Callable[[int, np.random.Generator], np.ndarray]
    test: np.ndarray
    build: Callable[[int], GenerativeModel]
    reference_cov: np.ndarray
    classifier: Classifier | None = None

    def __post_init__(self) -> None:
        self.real_mean = self.test.mean(axis=0)
        self.real_std = np.sqrt(np.clip(np.diag(np.atleast_2d(self.reference_cov)), 0.0, None))
        self.real_diversity = mean_pairwise_distance(self.test[:500])
        self.real_features = self.classifier.features(self.test) if self.classifier else None


def gaussian_source(model_types: Mapping[str, Any], dim: int = 1, *, n_test: int = 5000, seed: int = 0) -> Source:
    """N(0, diag(1, 2, …, dim)), modelled by the Gaussian MLE (a one-component ``gmm``, full covariance).

    ``model_types`` is the model-type registry (``host.registry("model_types")``) that provides ``gmm``.
    """
    cov = np.diag(np.arange(1.0, dim + 1))
    scale = np.sqrt(np.diag(cov))
    gmm = model_types.get("gmm")
    return Source(f"gaussian-{dim}d", lambda n, rng: rng.standard_normal((n, dim)) * scale,
                  np.random.default_rng([seed, 1]).standard_normal((n_test, dim)) * scale,
                  lambda s: gmm.build((dim,), dim, seed=s, components=1, covariance="full", reg_covar=0.0), cov)


def mixture_source(model_types: Mapping[str, Any], *, components: int = 3, n_test: int = 5000,
                   seed: int = 0) -> Source:
    """A 2-D mixture of three Gaussians, modelled by a ``gmm`` with as many components (full covariance)."""
    means = np.array([[-3.0, 0.0], [2.0, 2.0], [2.0, -3.0]])
    weights = np.array([0.5, 0.35, 0.15])
    stds = np.array([[1.0, 0.6], [0.7, 1.2], [0.5, 0.5]])

    def draw(n: int, rng: np.random.Generator) -> np.ndarray:
        which = rng.choice(3, size=n, p=weights)
        return means[which] + stds[which] * rng.standard_normal((n, 2))

    test = draw(n_test, np.random.default_rng([seed, 1]))
    gmm = model_types.get("gmm")
    return Source("mixture-2d", draw, test, lambda s: gmm.build((2,), 2, seed=s, components=components), np.cov(test.T))


def digits_source(model_types: Mapping[str, Any], *, seed: int = 0, epochs: int = 30, latent: int = 8,
                  hidden: int = 128) -> Source:
    """scikit-learn's 8×8 digits in [0, 1] (1300 rows to draw from, 497 held out), modelled by a Bernoulli ``vae``."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x, y = digits.data / 16.0, digits.target
    order = np.random.default_rng([seed, 2]).permutation(len(x))
    pool, test = x[order[:1300]], x[order[1300:]]
    vae = model_types.get("vae")

    def draw(n: int, rng: np.random.Generator) -> np.ndarray:
        return pool[rng.choice(len(pool), size=n, replace=False)]

    return Source("digits", draw, test,
                  lambda s: vae.build((64,), 64, seed=s, epochs=epochs, latent=latent, hidden=(hidden,)),
                  np.cov(test.T), digits_classifier(pool, y[order[:1300]], seed=seed))


def digits_classifier(x: np.ndarray, y: np.ndarray, *, seed: int = 0, hidden: int = 64) -> Classifier:
    """An MLP trained on real digits; its hidden tanh layer is the feature space for the Fréchet distance."""
    from tutelage import nn
    from tutelage.train import fit

    model = nn.Model([nn.Dense(hidden), nn.Tanh(), nn.Dense(10)], (x.shape[1],), seed=seed)
    fit(model, x, y, loss="cross_entropy", epochs=60, batch_size=64, lr=3e-3, seed=seed, quiet=True)
    features = nn.Model([nn.Dense(hidden), nn.Tanh()], (x.shape[1],), seed=seed)
    features.theta[:] = model.theta[:features.n_params]  # the first layers lead θ
    return Classifier(lambda s: model.forward(s).argmax(axis=1), lambda s: features.forward(s).astype(np.float64), 10)


SOURCES: dict[str, Callable[..., Source]] = {"gaussian": gaussian_source, "mixture": mixture_source,
                                             "digits": digits_source}


# -- the loop -------------------------------------------------------------------------------------------


def _covariance(model: Any, samples: np.ndarray) -> np.ndarray:
    return model.covariance_matrix() if hasattr(model, "covariance_matrix") else np.cov(samples.T)


def measure(model: GenerativeModel, source: Source, *, n_eval: int = 2000, seed: int = 0) -> dict[str, float]:
    """Every metric of one fitted model against the source's real data."""
    samples = model.sample(n_eval, seed=seed)
    row = {
        "real_nll": float(-model.log_prob(source.test).mean()),
        "var_ratio": trace_ratio(_covariance(model, samples), source.reference_cov),
        "tail2": tail_mass(samples, source.real_mean, source.real_std, 2.0),
        "tail3": tail_mass(samples, source.real_mean, source.real_std, 3.0),
        "tail2_centred": tail_mass(samples, samples.mean(axis=0), source.real_std, 2.0),
        "tail3_centred": tail_mass(samples, samples.mean(axis=0), source.real_std, 3.0),
        "diversity": mean_pairwise_distance(samples[:500]) / source.real_diversity,
    }
    if source.classifier is not None:
        labels = source.classifier.predict(samples)
        row["rarest_class"] = rarest_class_frequency(labels, source.classifier.classes)
        row["frechet"] = frechet_distance(source.classifier.features(samples), source.real_features)
    return row


def next_data(regime: Regime, real: np.ndarray, pool: list[tuple[np.ndarray, np.ndarray]], samples: np.ndarray,
              depth: int, fresh_real: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The next generation's rows and their depths; ``pool`` holds the accumulated (rows, depths) so far."""
    n = real.shape[0]
    synthetic = (samples, np.full(len(samples), depth))
    pool.append(synthetic)
    if regime.kind == "replace":
        return synthetic
    if regime.kind == "fresh":
        keep = n - fresh_real.shape[0]
        return (np.concatenate([fresh_real, samples[:keep]]),
                np.concatenate([np.zeros(fresh_real.shape[0], int), synthetic[1][:keep]]))
    rows, depths = np.concatenate([p[0] for p in pool]), np.concatenate([p[1] for p in pool])
    if regime.kind == "accumulate-subsample":
        pick = rng.choice(len(rows), size=n, replace=False)
        return rows[pick], depths[pick]
    return rows, depths


def run(source: Source, regimes: Sequence[Regime | str], *, generations: int = 10, seeds: Iterable[int] = range(5),
        n: int = 100, n_eval: int = 2000, guard: CollapseGuard | None = None, drift: float = 0.05,
        on_model: Callable[[Regime, int, int, GenerativeModel], None] | None = None) -> list[dict[str, Any]]:
    """Run every regime × seed for ``generations`` + 1 models; one tidy row per (regime, seed, generation).

    ``on_model(regime, seed, generation, model)`` sees each fitted model (e.g. to keep its samples).
    """
    if generations < 1 or n < 2:
        raise SpecError(f"collapse lab: need generations >= 1 and n >= 2, got {generations} and {n}")
    guard = guard or CollapseGuard()
    regimes = [r if isinstance(r, Regime) else Regime.parse(r) for r in regimes]
    rows: list[dict[str, Any]] = []
    with one_blas_thread():
        for regime in regimes:
            for seed in seeds:
                rows += _chain(source, regime, seed, generations, n, n_eval, guard, DriftAlarm(drift), on_model)
    return rows


def _chain(source: Source, regime: Regime, seed: int, generations: int, n: int, n_eval: int,
           guard: CollapseGuard, alarm: DriftAlarm, on_model: Callable | None) -> list[dict[str, Any]]:
    rng = np.random.default_rng([seed, KINDS.index(regime.kind)])
    real = source.draw(n, rng)
    data, depths = real, np.zeros(n, int)
    pool = [(real, depths)]
    rows = []
    for g in range(generations + 1):
        share = float(np.mean(depths > 0))
        verdict = guard.check({"synthetic_share": share, "synthetic_depth": int(depths.max())},
                              name=f"{regime.name}/seed{seed}/gen{g}")
        model = source.build(seed * 1000 + g).fit(data, seed=seed * 1000 + g)
        if on_model is not None:
            on_model(regime, seed, g, model)
        metrics = measure(model, source, n_eval=n_eval, seed=seed * 1000 + g + 500)
        alarm_verdict = alarm.update(metrics["real_nll"], g)
        rows.append({"source": source.name, "regime": regime.name, "seed": seed, "generation": g,
                     "n_train": int(data.shape[0]), "synthetic_share": share, "synthetic_depth": int(depths.max()),
                     **metrics, "guard": verdict.status, "drift_alarm": alarm_verdict.status})
        if g < generations:
            samples = model.sample(n, seed=seed * 1000 + g + 100)
            fresh = source.draw(round(regime.fresh * n), rng) if regime.kind == "fresh" else real[:0]
            data, depths = next_data(regime, real, pool, samples, int(depths.max()) + 1, fresh, rng)
    return rows


# -- summaries ------------------------------------------------------------------------------------------


def bands(rows: Sequence[dict[str, Any]], metrics: Iterable[str] = METRICS) -> list[dict[str, Any]]:
    """Mean and 95 % interval over seeds of each metric, per (source, regime, generation)."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["source"], row["regime"], row["generation"]), []).append(row)
    out = []
    for (source, regime, generation), members in groups.items():
        for metric in metrics:
            values = [r[metric] for r in members if metric in r]
            if values:
                out.append({"source": source, "regime": regime, "generation": generation, "metric": metric,
                            **mean_interval(values).as_dict()})
    return out


def relative_nll(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row's held-out real NLL change relative to generation 0 of the same chain (``nll_change``)."""
    base = {(r["regime"], r["seed"]): r["real_nll"] for r in rows if r["generation"] == 0}
    return [{**r, "nll_change": relative_change(base[(r["regime"], r["seed"])], r["real_nll"])} for r in rows]


def guard_timing(rows: Sequence[dict[str, Any]], degraded: float = 0.10) -> list[dict[str, Any]]:
    """Per chain: the first generation the guard and the drift alarm fire, and the first whose real NLL is
    more than ``degraded`` worse than generation 0 (None when it never happens). The guard checks a
    generation's data before that model is trained, so firing at the degraded generation is in time."""
    chains: dict[tuple, list[dict[str, Any]]] = {}
    for row in relative_nll(rows):
        chains.setdefault((row["regime"], row["seed"]), []).append(row)
    out = []
    for (regime, seed), chain in chains.items():
        chain.sort(key=lambda r: r["generation"])
        first = lambda test: next((r["generation"] for r in chain if test(r)), None)  # noqa: E731
        guard, alarm = first(lambda r: r["guard"] != "ok"), first(lambda r: r["drift_alarm"] != "ok")
        bad = first(lambda r: r["nll_change"] > degraded)
        out.append({"regime": regime, "seed": seed, "guard_fires": guard, "drift_alarm_fires": alarm,
                    "degraded": bad, "in_time": bad is None or (guard is not None and guard <= bad)})
    return out


def interval_text(values: Sequence[float]) -> str:
    """``mean ±half-width`` of the 95 % interval over seeds, for tables."""
    iv = mean_interval(values)
    return f"{iv.estimate:.3g} ±{(iv.high - iv.low) / 2:.2g}" if math.isfinite(iv.low) else f"{iv.estimate:.3g}"
