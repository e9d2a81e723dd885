"""The ``gmm`` model type: a Gaussian mixture fitted by EM, the analytic baseline of the collapse lab.

With one component and ``reg_covar=0`` the fit is the Gaussian maximum-likelihood
estimate (sample mean, covariance with divisor n) after one EM step.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tutelage import generative
from tutelage.errors import SpecError

LOG_2PI = float(np.log(2 * np.pi))


def logsumexp(a: np.ndarray) -> np.ndarray:
    """``log Σ exp`` over the last axis (scipy's is slow on small arrays)."""
    top = a.max(axis=1, keepdims=True)
    return (top + np.log(np.exp(a - top).sum(axis=1, keepdims=True)))[:, 0]


class GMM(generative.SavesAsSafetensors):
    """K Gaussians with ``"full"`` or ``"diag"`` covariances; :class:`tutelage.generative.GenerativeModel`."""

    model_type = "gmm"
    conditional = False

    def __init__(self, dim: int, *, components: int = 3, covariance: str = "full", reg_covar: float = 1e-6,
                 max_iter: int = 200, tol: float = 1e-6, seed: int = 0):
        if covariance not in ("full", "diag"):
            raise SpecError(f"gmm: field 'covariance' must be 'full' or 'diag', got {covariance!r}")
        if not isinstance(components, int) or components < 1:
            raise SpecError(f"gmm: field 'components' must be a positive integer, got {components!r}")
        self.dim, self.components, self.covariance = int(dim), components, covariance
        self.reg_covar, self.max_iter, self.tol, self.seed = float(reg_covar), int(max_iter), float(tol), int(seed)
        self.weights = np.full(components, 1.0 / components)
        self.means = np.zeros((components, self.dim))
        shape = (components, self.dim, self.dim) if covariance == "full" else (components, self.dim)
        self.covariances = np.broadcast_to(np.eye(self.dim) if covariance == "full" else 1.0, shape).copy()
        self.iterations = 0
        self.info: dict[str, Any] = {}

    # -- densities -------------------------------------------------------------------------------------

    def _component_log_prob(self, x: np.ndarray) -> np.ndarray:
        """``log π_c + log N(x | μ_c, Σ_c)`` for every row and component, ``(N, K)``."""
        out = np.empty((x.shape[0], self.components))
        for c in range(self.components):
            diff = x - self.means[c]
            if self.covariance == "full":
                chol = np.linalg.cholesky(self.covariances[c])
                solved = np.linalg.solve(chol, diff.T)
                maha, logdet = (solved**2).sum(axis=0), 2 * np.log(np.diag(chol)).sum()
            else:
                maha, logdet = (diff**2 / self.covariances[c]).sum(axis=1), np.log(self.covariances[c]).sum()
            out[:, c] = np.log(self.weights[c]) - 0.5 * (maha + logdet + self.dim * LOG_2PI)
        return out

    def log_prob(self, data: Any, *, given: Any = None) -> np.ndarray:
        return logsumexp(self._component_log_prob(generative.as_rows(data, self.dim, "gmm.log_prob")))

    # -- EM ----------------------------------------------------------------------------------------------

    def fit(self, data: Any, *, given: Any = None, seed: int | None = None) -> GMM:
        x = generative.as_rows(data, self.dim, "gmm.fit")
        if x.shape[0] < 2:
            raise SpecError(f"gmm.fit: need at least 2 rows, got {x.shape[0]}")
        rng = np.random.default_rng(self.seed if seed is None else seed)
        resp = np.zeros((x.shape[0], self.components))
        resp[np.arange(x.shape[0]), self._nearest(x, x[rng.choice(x.shape[0], self.components, replace=False)])] = 1
        previous = -np.inf
        for self.iterations in range(1, self.max_iter + 1):
            self._m_step(x, resp)
            log_joint = self._component_log_prob(x)
            norm = logsumexp(log_joint)
            resp = np.exp(log_joint - norm[:, None])
            mean_ll = float(norm.mean())
            if abs(mean_ll - previous) <= self.tol * max(1.0, abs(mean_ll)):
                break
            previous = mean_ll
        return self

    @staticmethod
    def _nearest(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
        return ((x[:, None, :] - centres[None]) ** 2).sum(axis=2).argmin(axis=1)

    def _m_step(self, x: np.ndarray, resp: np.ndarray) -> None:
        counts = resp.sum(axis=0) + 10 * np.finfo(float).eps
        self.weights = counts / counts.sum()
        self.means = resp.T @ x / counts[:, None]
        for c in range(self.components):
            diff = x - self.means[c]
            if self.covariance == "full":
                cov = (resp[:, c, None] * diff).T @ diff / counts[c]
                self.covariances[c] = cov + self.reg_covar * np.eye(self.dim)
            else:
                self.covariances[c] = (resp[:, c, None] * diff**2).sum(axis=0) / counts[c] + self.reg_covar

    # -- sampling --------------------------------------------------------------------------------------

    def sample(self, n: int, seed: int, *, given: Any = None) -> np.ndarray:
        rng = np.random.default_rng(seed)
        which = rng.choice(self.components, size=n, p=self.weights)
        noise = rng.standard_normal((n, self.dim))
        out = np.empty((n, self.dim))
        for c in range(self.components):
            rows = which == c
            if self.covariance == "full":
                out[rows] = self.means[c] + noise[rows] @ np.linalg.cholesky(self.covariances[c]).T
            else:
                out[rows] = self.means[c] + noise[rows] * np.sqrt(self.covariances[c])
        return out

    def covariance_matrix(self) -> np.ndarray:
        """The covariance of the whole mixture, ``(d, d)``."""
        full = self.covariances if self.covariance == "full" else np.stack([np.diag(c) for c in self.covariances])
        mean = self.weights @ self.means
        spread = np.einsum("c,ci,cj->ij", self.weights, self.means - mean, self.means - mean)
        return np.einsum("c,cij->ij", self.weights, full) + spread

    # -- files -------------------------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        return {"dim": self.dim, "components": self.components, "covariance": self.covariance,
                "reg_covar": self.reg_covar, "max_iter": self.max_iter, "tol": self.tol, "seed": self.seed}

    def tensors(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights, "means": self.means, "covariances": self.covariances}


class GMMType:
    """Builds a :class:`GMM` over rows of ``input_shape`` (``output_size`` is the same row size)."""

    name = "gmm"
    description = "Gaussian mixture fitted by EM (diagonal or full covariance); a generative model"

    def build(self, input_shape: tuple[int, ...], output_size: int, *, seed: int = 0, **options: Any) -> GMM:
        return GMM(generative.row_size(input_shape, output_size, "gmm"), seed=seed, **options)

    def restore(self, config: dict[str, Any], tensors: dict[str, np.ndarray]) -> GMM:
        model = GMM(**config)
        model.weights, model.means = tensors["weights"].copy(), tensors["means"].copy()
        if tensors["covariances"].shape != model.covariances.shape:
            raise ValueError(f"covariances are {list(tensors['covariances'].shape)}, expected "
                             f"{list(model.covariances.shape)}")
        model.covariances = tensors["covariances"].copy()
        return model
