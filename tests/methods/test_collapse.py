"""The collapse lab: metrics by hand on tiny cases, regimes, the Gaussian closed form, and the CLI."""
from __future__ import annotations

import math

import numpy as np
import pyarrow.parquet as pq
import pytest

from tutelage.cli import main
from tutelage.errors import SpecError
from tutelage.methods import collapse
from tutelage.methods.collapse import Regime
from tutelage.plugins import registry
from tutelage.stats import mean_interval

MODEL_TYPES = registry("model_types")


def test_metrics_by_hand():
    assert collapse.trace_ratio(np.diag([1.0, 3.0]), np.diag([2.0, 2.0])) == 1.0
    assert collapse.trace_ratio(np.array(0.5), np.array(2.0)) == 0.25
    samples = np.array([[0.0], [1.5], [2.5], [-3.5]])
    assert collapse.tail_mass(samples, np.zeros(1), np.ones(1), 2.0) == 0.5
    assert collapse.tail_mass(samples, np.zeros(1), np.ones(1), 3.0) == 0.25
    assert collapse.tail_mass(samples, np.array([1.0]), np.array([2.0]), 2.0) == 0.25  # only -3.5 is beyond 1 ± 4
    two = np.array([[0.0, 5.0], [3.0, 0.0]])  # the second coordinate is constant in the real data: left out
    assert collapse.tail_mass(two, np.zeros(2), np.array([1.0, 0.0]), 2.0) == 0.5
    drifted = samples + 10.0  # every coordinate far from the real mean; centred on its own mean, the same tails
    assert collapse.tail_mass(drifted, np.zeros(1), np.ones(1), 2.0) == 1.0
    # around its own mean 10.125: deviations −0.125, 1.375, 2.375, −3.625, so two of four beyond 2
    assert collapse.tail_mass(drifted, drifted.mean(axis=0), np.ones(1), 2.0) == 0.5
    # a 3-4-5 triangle: distances 3, 4, 5
    assert collapse.mean_pairwise_distance(np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])) == pytest.approx(4.0)
    assert collapse.rarest_class_frequency(np.array([0, 0, 1, 2, 2, 2]), 3) == pytest.approx(1 / 6)
    assert collapse.rarest_class_frequency(np.array([0, 1]), 3) == 0.0
    # 1-D Fréchet: (μa − μb)² + (σa − σb)²; here μ 1 vs 3 (ddof 1 variances 1 and 4)
    a, b = np.array([[0.0], [1.0], [2.0]]), np.array([[1.0], [3.0], [5.0]])
    assert collapse.frechet_distance(a, b) == pytest.approx(4 + (1 - 2) ** 2)
    assert collapse.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    assert collapse.expected_variance_ratio(10, 0) == pytest.approx(0.9)
    assert collapse.expected_variance_ratio(10, 2) == pytest.approx(0.729)


def test_regimes_parse_and_build_the_next_data():
    assert Regime.parse("fresh=0.25") == Regime("fresh", 0.25) and Regime.parse("fresh=0.25").name == "fresh=0.25"
    for bad in ("collapse", "fresh", "fresh=2", "replace=1"):
        with pytest.raises(SpecError):
            Regime.parse(bad)
    rng = np.random.default_rng(0)
    real, samples, fresh = np.zeros((4, 1)), np.ones((4, 1)), np.full((1, 1), 2.0)

    def step(regime, pool):
        return collapse.next_data(Regime.parse(regime), real, pool, samples, 1, fresh, rng)

    rows, depths = step("replace", [(real, np.zeros(4, int))])
    assert rows.tolist() == samples.tolist() and depths.tolist() == [1, 1, 1, 1]
    rows, depths = step("accumulate", [(real, np.zeros(4, int))])
    assert len(rows) == 8 and depths.tolist() == [0] * 4 + [1] * 4
    rows, depths = step("accumulate-subsample", [(real, np.zeros(4, int))])
    assert len(rows) == 4 and set(rows.ravel()) <= {0.0, 1.0}
    rows, depths = step("fresh=0.25", [(real, np.zeros(4, int))])
    assert rows.ravel().tolist() == [2.0, 1.0, 1.0, 1.0] and depths.tolist() == [0, 1, 1, 1]


def check_closed_form(n: int, generations: int, chains: int) -> None:
    """E[σ̂²_g]/σ² = ((n − 1)/n)^(g + 1) under replace: the truth inside the 99 % interval over chains."""
    for dim in (1, 3):
        source = collapse.gaussian_source(MODEL_TYPES, dim, n_test=100)
        rows = collapse.run(source, ["replace"], generations=generations, seeds=range(chains), n=n, n_eval=20)
        for g in range(generations + 1):
            ratios = [r["var_ratio"] for r in rows if r["generation"] == g]
            interval = mean_interval(ratios, confidence=0.99)
            assert interval.low <= collapse.expected_variance_ratio(n, g) <= interval.high, (dim, g, interval)


def test_gaussian_mle_matches_the_closed_form():
    check_closed_form(n=8, generations=3, chains=150)


@pytest.mark.slow
def test_gaussian_mle_matches_the_closed_form_over_ten_generations():
    check_closed_form(n=10, generations=10, chains=2000)


def test_lab_rows_bands_and_guard_timing():
    source = collapse.gaussian_source(MODEL_TYPES, 1, n_test=300)
    rows = collapse.run(source, ["replace", "accumulate", "fresh=0.5"], generations=3, seeds=range(3), n=10, n_eval=100)
    assert len(rows) == 3 * 3 * 4
    first = {r["regime"]: r for r in rows if r["generation"] == 1 and r["seed"] == 0}
    assert first["replace"]["synthetic_share"] == 1.0 and first["replace"]["guard"] == "warn"
    assert first["accumulate"]["synthetic_share"] == 0.5 and first["accumulate"]["n_train"] == 20
    assert first["fresh=0.5"]["synthetic_share"] == 0.5 and first["fresh=0.5"]["guard"] == "ok"
    assert all(r["synthetic_depth"] == r["generation"] for r in rows if r["regime"] == "replace")
    again = collapse.run(source, ["replace"], generations=3, seeds=[1], n=10, n_eval=100)
    assert again == [r for r in rows if r["regime"] == "replace" and r["seed"] == 1]  # seeded end to end
    band = [b for b in collapse.bands(rows, ["real_nll"]) if b["regime"] == "replace" and b["generation"] == 2][0]
    values = [r["real_nll"] for r in rows if r["regime"] == "replace" and r["generation"] == 2]
    assert band["n"] == 3 and band["estimate"] == pytest.approx(np.mean(values))
    timing = {(t["regime"], t["seed"]): t for t in collapse.guard_timing(rows)}
    assert timing[("replace", 0)]["guard_fires"] == 1 and timing[("replace", 0)]["in_time"]
    assert timing[("fresh=0.5", 0)]["guard_fires"] is None


def test_digits_source_measures_classes_and_features():
    source = collapse.digits_source(MODEL_TYPES, epochs=3, hidden=32)
    # the classifier trained on real digits sees real held-out digits as near-balanced classes
    assert collapse.rarest_class_frequency(source.classifier.predict(source.test), 10) > 0.07
    model = source.build(0).fit(source.draw(300, np.random.default_rng(0)))
    metrics = collapse.measure(model, source, n_eval=300)
    assert set(metrics) == set(collapse.METRICS)
    assert 0.0 <= metrics["rarest_class"] <= 0.1 and metrics["frechet"] > 0 and math.isfinite(metrics["real_nll"])


def test_cli_writes_results_and_plots(tmp_path, capsys):
    out = tmp_path / "lab"
    assert main(["collapse", "--source", "gaussian", "--regimes", "replace,fresh=0.5", "--generations", "2",
                 "--seeds", "2", "--n", "10", "--out", str(out)]) == 0
    table = pq.read_table(out / "results.parquet")
    assert table.num_rows == 2 * 2 * 3 and {"real_nll", "guard", "nll_change"} <= set(table.column_names)
    assert (out / "real_nll.png").stat().st_size > 1000 and (out / "bands.parquet").exists()
    assert "replace" in capsys.readouterr().out
    assert main(["collapse", "--regimes", "fresh=3", "--out", str(out)]) == 2
    assert "fresh" in capsys.readouterr().err
