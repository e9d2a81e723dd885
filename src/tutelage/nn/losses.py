"""Losses: ``loss(pred, target) -> (value, dpred)``, the mean over the batch and its gradient.

:class:`BradleyTerry` takes two reward vectors and returns ``(value, d_chosen,
d_rejected)``. Losses are also found by name (:func:`get`). :class:`GaussianLatent` is a
VAE's reparameterized latent with its KL term.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tutelage._core import generative as _g
from tutelage._core import losses as _k
from tutelage.errors import DataError, UnknownNameError


def _f32(array: Any, name: str) -> np.ndarray:
    out = np.ascontiguousarray(array, dtype=np.float32)
    if out.ndim == 0:
        raise DataError(f"{name} must be an array, got a scalar")
    return out


def _rows(pred: np.ndarray) -> np.ndarray:
    """Predictions as (N, K)."""
    return pred.reshape(pred.shape[0], -1) if pred.ndim > 1 else pred.reshape(-1, 1)


def _labels(labels: Any, rows: int, classes: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.shape != (rows,):
        raise DataError(f"labels must have shape ({rows},), got {y.shape}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise DataError("integer labels expected, got non-integer values")
    elif y.dtype.kind not in "iub":
        raise DataError(f"labels must be integers, got dtype {y.dtype}")
    y = np.ascontiguousarray(y, dtype=np.int64)
    if rows and (y.min() < 0 or y.max() >= classes):
        raise DataError(f"labels must lie in [0, {classes}), got range [{y.min()}, {y.max()}]")
    return y


class Loss:
    """Base class: ``name`` for lookup, ``classification`` when accuracy makes sense."""

    name = ""
    classification = False

    def __call__(self, pred: Any, target: Any) -> tuple[float, np.ndarray]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MSE(Loss):
    """Mean squared error over every element."""

    name = "mse"

    def __call__(self, pred, target):
        pred = _f32(pred, "pred")
        target = _f32(target, "target")
        if target.size != pred.size:
            raise DataError(f"target has {target.size} values for {pred.size} predictions ({pred.shape} vs {target.shape})")
        grad = np.empty_like(pred)
        return _k.mse(pred, target, grad), grad


class CrossEntropy(Loss):
    """Softmax cross-entropy of logits against integer labels ``(N,)`` or probabilities ``(N, K)``."""

    name = "cross_entropy"
    classification = True

    def __call__(self, pred, target):
        logits = _rows(_f32(pred, "logits"))
        grad = np.empty_like(logits)
        target = np.asarray(target)
        if target.ndim == 2 and target.shape == logits.shape and target.dtype.kind == "f":
            value = _k.cross_entropy_soft(logits, np.ascontiguousarray(target, dtype=np.float32), grad, logits.shape[0])
        else:
            value = _k.cross_entropy_labels(logits, _labels(target, *logits.shape), grad)
        return value, grad.reshape(np.shape(pred))


class Distillation(Loss):
    """Hinton's distillation loss; ``target = (teacher_logits, hard_labels)`` (labels may be None when α = 1).

    ``α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1 − α)·CE(s, labels)``.
    """

    name = "distillation"
    classification = True

    def __init__(self, temperature: float = 2.0, alpha: float = 0.5):
        if not temperature > 0 or not 0.0 <= alpha <= 1.0:
            raise DataError(f"distillation needs temperature > 0 and alpha in [0, 1], got {temperature}, {alpha}")
        self.temperature, self.alpha = float(temperature), float(alpha)

    def __call__(self, pred, target):
        if not isinstance(target, (tuple, list)) or len(target) != 2:
            raise DataError("distillation target must be (teacher_logits, hard_labels)")
        student = _rows(_f32(pred, "student logits"))
        teacher = _f32(target[0], "teacher logits")
        if teacher.size != student.size:
            raise DataError(f"teacher logits {teacher.shape} do not match student logits {student.shape}")
        labels = target[1]
        if labels is None and self.alpha < 1.0:
            raise DataError("distillation with alpha < 1 needs hard labels")
        if labels is not None:
            labels = _labels(labels, *student.shape)
        grad = np.empty_like(student)
        value = _k.distillation(student, teacher, labels, grad, student.shape[0], self.temperature, self.alpha)
        return value, grad.reshape(np.shape(pred))

    def __repr__(self) -> str:
        return f"Distillation(temperature={self.temperature}, alpha={self.alpha})"


class GaussianNLL(Loss):
    """Negative log-likelihood of targets ``(N, k)`` under ``N(mean, exp(log_std)²)``; ``pred`` is ``(N, 2k)``."""

    name = "gaussian_nll"

    def __call__(self, pred, target):
        pred = _rows(_f32(pred, "pred"))
        target = _rows(_f32(target, "target"))
        if pred.shape != (target.shape[0], 2 * target.shape[1]):
            raise DataError(f"pred must be (N, 2k) = (mean, log_std) for targets (N, k); got {pred.shape} and {target.shape}")
        grad = np.empty_like(pred)
        return _k.gaussian_nll(pred, target, grad, pred.shape[0]), grad


class _RowLoss(Loss):
    """A loss summed over each row's features; ``per_row`` gives the rows' values without the mean."""

    def __call__(self, pred, target):
        return self._run(pred, target, None)

    def per_row(self, pred, target) -> np.ndarray:
        out = np.empty(np.shape(pred)[0], dtype=np.float64)
        self._run(pred, target, out)
        return out

    def _run(self, pred, target, per_row: np.ndarray | None) -> tuple[float, np.ndarray]:
        raise NotImplementedError


class BernoulliNLL(_RowLoss):
    """Bernoulli negative log-likelihood of targets in [0, 1] given logits ``(N, k)``: summed over features, mean over rows."""

    name = "bernoulli_nll"

    def _run(self, pred, target, per_row):
        logits = _rows(_f32(pred, "logits"))
        target = _rows(_f32(target, "target"))
        if target.shape != logits.shape:
            raise DataError(f"target {target.shape} does not match logits {logits.shape}")
        grad = np.empty_like(logits)
        return _g.bernoulli_nll(logits, target, grad, logits.shape[0], per_row), grad.reshape(np.shape(pred))


class MixtureNLL(_RowLoss):
    """Mixture-density NLL of targets ``(N, d)`` under K diagonal Gaussians; mean over rows.

    ``pred`` rows are ``[logits (K), means (K·d), log_std (K·d)]``, component-major.
    """

    name = "mixture_nll"

    def __init__(self, components: int = 5):
        if isinstance(components, bool) or not isinstance(components, (int, np.integer)) or components < 1:
            raise DataError(f"mixture_nll needs a positive integer number of components, got {components!r}")
        self.components = int(components)

    def _run(self, pred, target, per_row):
        pred = _rows(_f32(pred, "pred"))
        target = _rows(_f32(target, "target"))
        width = self.components * (1 + 2 * target.shape[1])
        if pred.shape != (target.shape[0], width):
            raise DataError(f"pred must be (N, K·(1 + 2d)) = ({target.shape[0]}, {width}) for {self.components} "
                            f"components and targets {target.shape}; got {pred.shape}")
        grad = np.empty_like(pred)
        return _g.mixture_nll(pred, target, grad, pred.shape[0], self.components, per_row), grad

    def __repr__(self) -> str:
        return f"MixtureNLL(components={self.components})"


class GaussianLatent:
    """A VAE's latent: ``stats`` rows ``[mean (k), log_var (k)]`` from the encoder, noise ``eps`` ``(N, k)``.

    :meth:`sample` draws ``z = mean + exp(½·log_var)·eps`` (the reparameterization
    trick); :meth:`backward` returns ``KL(q ‖ N(0, I))`` (summed over the latent,
    mean over rows) and the encoder-output gradient ``β·∂KL + ∂z/∂stats · dz``.
    """

    def __init__(self, beta: float = 1.0):
        if not beta >= 0:
            raise DataError(f"beta must be >= 0, got {beta!r}")
        self.beta = float(beta)

    @staticmethod
    def _check(stats, eps) -> tuple[np.ndarray, np.ndarray]:
        stats = _rows(_f32(stats, "stats"))
        eps = _rows(_f32(eps, "eps"))
        if stats.shape != (eps.shape[0], 2 * eps.shape[1]):
            raise DataError(f"stats must be (N, 2k) = (mean, log_var) for eps (N, k); got {stats.shape} and {eps.shape}")
        return stats, eps

    def sample(self, stats, eps) -> np.ndarray:
        stats, eps = self._check(stats, eps)
        z = np.empty_like(eps)
        _g.reparameterize(stats, eps, z, stats.shape[0])
        return z

    def backward(self, stats, eps, dz=None, per_row: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        stats, eps = self._check(stats, eps)
        if dz is not None:
            dz = _f32(dz, "dz")
            if dz.size != eps.size:
                raise DataError(f"dz has {dz.size} values for a latent of shape {eps.shape}")
        dstats = np.empty_like(stats)
        value = _g.gaussian_latent_backward(stats, eps, dz, dstats, stats.shape[0], self.beta, per_row)
        return value, dstats

    def __repr__(self) -> str:
        return f"GaussianLatent(beta={self.beta})"


class BradleyTerry(Loss):
    """Pairwise preference loss ``-log σ(r_chosen − r_rejected)``; returns ``(value, d_chosen, d_rejected)``."""

    name = "bradley_terry"

    def __call__(self, r_chosen, r_rejected):
        chosen = _f32(r_chosen, "r_chosen")
        rejected = _f32(r_rejected, "r_rejected")
        if chosen.shape != rejected.shape:
            raise DataError(f"r_chosen {chosen.shape} and r_rejected {rejected.shape} differ in shape")
        d_chosen, d_rejected = np.empty_like(chosen), np.empty_like(rejected)
        return _k.bradley_terry(chosen, rejected, d_chosen, d_rejected), d_chosen, d_rejected


LOSSES: dict[str, type[Loss]] = {cls.name: cls for cls in (MSE, CrossEntropy, Distillation, GaussianNLL, BernoulliNLL, MixtureNLL,
                                                      BradleyTerry)}


def get(loss: str | Loss, **options: Any) -> Loss:
    """A loss instance from a name (``"mse"``) or the instance itself."""
    if isinstance(loss, Loss):
        return loss
    if loss not in LOSSES:
        raise UnknownNameError("loss", str(loss), LOSSES)
    return LOSSES[loss](**options)
