"""``fit``: learning for real, determinism, validation, early stopping, callbacks, NaN stop."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from tutelage import hookimpl, nn
from tutelage.errors import DataError, NumericalError
from tutelage.nn import losses
from tutelage.plugins import get_host, registry
from tutelage.train import History, evaluate, fit


def digits_split():
    """sklearn's digits, pixels scaled to [0, 1], stratified 80/20 split (random_state=0)."""
    X, y = load_digits(return_X_y=True)
    return train_test_split((X / 16.0).astype(np.float32), y, test_size=0.2, random_state=0, stratify=y)


def test_mlp_reaches_97_percent_on_digits():
    X_train, X_test, y_train, y_test = digits_split()
    model = registry("model_types").get("mlp").build((64,), 10, seed=0, hidden=(64, 64))
    history = fit(model, X_train, y_train, loss="cross_entropy", epochs=50, batch_size=32, lr=2e-3, quiet=True)
    assert history.loss[-1] < history.loss[0] / 10
    assert evaluate(model, X_test, y_test, "cross_entropy")["accuracy"] >= 0.97


def small_problem(n=256, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 6)).astype(np.float32)
    y = (X[:, :2].sum(axis=1) > 0).astype(np.int64)
    return X, y


def small_model(seed=0):
    return nn.Sequential([nn.Dense(16), nn.ReLU(), nn.Dropout(0.2), nn.Dense(2)], input_shape=(6,), seed=seed)


def test_same_seed_gives_bit_identical_theta():
    X, y = small_problem()
    runs = []
    for _ in range(2):
        model = small_model()
        fit(model, X, y, loss="cross_entropy", epochs=3, batch_size=16, validation=0.2, seed=7, quiet=True)
        runs.append(model.theta.copy())
    np.testing.assert_array_equal(runs[0], runs[1])
    other = small_model()
    fit(other, X, y, loss="cross_entropy", epochs=3, batch_size=16, validation=0.2, seed=8, quiet=True)
    assert not np.array_equal(other.theta, runs[0])


def test_history_validation_and_callbacks():
    X, y = small_problem()
    seen = []
    history = fit(small_model(), X, y, loss="cross_entropy", epochs=4, lr=1e-2, validation=(X[:50], y[:50]),
                  callbacks=[lambda model, epoch, logs: seen.append((epoch, sorted(logs)))], quiet=True)
    assert isinstance(history, History) and len(history.epochs) == 4
    assert seen[0] == (0, ["epoch", "loss", "seconds", "val_accuracy", "val_loss"])
    assert history.epochs[-1]["val_accuracy"] > 0.8


def test_epoch_end_hook_reaches_plugins_through_the_host_callbacks():
    calls = []

    class Logger:
        @hookimpl
        def tutelage_epoch_end(self, model, epoch, logs):
            calls.append((epoch, logs["loss"]))

    class Broken:
        @hookimpl
        def tutelage_epoch_end(self, model, epoch, logs):
            raise RuntimeError("logger down")

    host = get_host()
    logger, broken = Logger(), Broken()
    host.pm.register(logger, name="test-logger")
    host.pm.register(broken, name="broken-logger")
    try:
        X, y = small_problem()
        with pytest.warns(RuntimeWarning, match="broken-logger.*logger down"):  # reported, never a stop
            fit(small_model(), X, y, loss="cross_entropy", epochs=2, quiet=True, callbacks=host.callbacks())
    finally:
        host.pm.unregister(logger)
        host.pm.unregister(broken)
    assert [epoch for epoch, _ in calls] == [0, 1]


def test_early_stopping_restores_the_best_epoch():
    X, y = small_problem()
    Xv = np.random.default_rng(5).standard_normal((64, 6)).astype(np.float32)
    yv = np.random.default_rng(6).integers(0, 2, 64)  # noise: validation loss soon stops improving
    model = small_model()
    history = fit(model, X, y, loss="cross_entropy", epochs=200, validation=(Xv, yv), early_stopping=3, lr=1e-2,
                  quiet=True)
    assert history.stopped_early and len(history.epochs) < 200
    best = history.epochs[history.best_epoch]["val_loss"]
    assert evaluate(model, Xv, yv, "cross_entropy")["loss"] == pytest.approx(best, rel=1e-5)


def test_nan_target_stops_with_theta_unchanged():
    X, y = small_problem(64)
    Y = np.eye(2, dtype=np.float32)[y]
    Y[10, 0] = np.nan
    model = small_model()
    start = model.theta.copy()
    with pytest.raises(NumericalError, match="loss became nan at epoch 0, batch 0"):
        fit(model, X, Y, loss="mse", epochs=3, batch_size=64, quiet=True)
    np.testing.assert_array_equal(model.theta, start)


def test_divergence_stops_with_finite_theta():
    X, y = small_problem(64)
    model = small_model()
    with pytest.raises(NumericalError, match="became"):
        fit(model, X * 1e3, np.eye(2, dtype=np.float32)[y] * 1e3, loss="mse", optimizer="sgd", lr=1e12, epochs=20,
            batch_size=8, quiet=True)
    assert np.isfinite(model.theta).all()


def test_distillation_with_teacher_logits_and_labels():
    X, y = small_problem()
    teacher = small_model(1)
    fit(teacher, X, y, loss="cross_entropy", epochs=10, lr=1e-2, quiet=True)
    student = nn.Sequential([nn.Dense(8), nn.Tanh(), nn.Dense(2)], input_shape=(6,), seed=2)
    history = fit(student, X, (teacher.forward(X), y), loss=losses.Distillation(temperature=2.0, alpha=0.5),
                  epochs=10, lr=1e-2, validation=0.25, quiet=True)
    assert history.loss[-1] < history.loss[0]
    assert history.epochs[-1]["val_accuracy"] > 0.8


def test_progress_bar_runs(capsys):
    X, y = small_problem(32)
    fit(small_model(), X, y, loss="cross_entropy", epochs=2, quiet=False)


def test_mismatched_inputs_are_clear_errors():
    X, y = small_problem(32)
    with pytest.raises(DataError, match=r"inputs have shape \(32, 5\), the model needs \(N, 6\)"):
        fit(small_model(), X[:, :5], y, quiet=True)
    with pytest.raises(DataError, match="targets have 31 rows for 32 inputs"):
        fit(small_model(), X, y[:31], quiet=True)
