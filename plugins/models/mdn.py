"""The ``mdn`` model type: a mixture density network, p(y | x) as K diagonal Gaussians from an MLP.

For continuous targets conditioned on inputs (actions given observations,
scenario parameters given a context). Inputs and targets are standardized
with statistics kept in the model; ``log_prob`` is in the targets' own units.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tutelage import generative, nn
from tutelage.errors import DataError, SpecError
from tutelage.nn import losses
from tutelage.train import fit as train_fit
from tutelage_plugins.models.common import activation_layer, sizes


class MDN(generative.SavesAsSafetensors):
    """``p(y | x)`` for inputs of ``input_dim`` and targets of ``dim``; :class:`tutelage.generative.GenerativeModel`."""

    model_type = "mdn"
    conditional = True

    def __init__(self, input_dim: int, dim: int, *, components: int = 5, hidden: Any = (64, 64),
                 activation: str = "tanh", epochs: int = 50, batch_size: int = 64, lr: float = 3e-3, seed: int = 0):
        self.input_dim, self.dim = int(input_dim), int(dim)
        self.components, self.hidden = sizes(components, "components", "mdn")[0], sizes(hidden, "hidden", "mdn")
        self.activation = activation
        self.epochs, self.batch_size, self.lr, self.seed = int(epochs), int(batch_size), float(lr), int(seed)
        layers: list[nn.Layer] = []
        for units in self.hidden:
            layers += [nn.Dense(units), activation_layer(activation, "mdn")]
        layers.append(nn.Dense(self.components * (1 + 2 * self.dim)))
        self.network = nn.Model(layers, (self.input_dim,), seed=seed)
        self.loss = losses.MixtureNLL(self.components)
        self.x_mean, self.x_std = np.zeros(self.input_dim), np.ones(self.input_dim)
        self.y_mean, self.y_std = np.zeros(self.dim), np.ones(self.dim)
        self.history: Any = None
        self.info: dict[str, Any] = {}

    def _given(self, given: Any, what: str) -> np.ndarray:
        if given is None:
            raise DataError(f"{what}: an mdn is conditional; pass the inputs as given=")
        return ((generative.as_rows(given, self.input_dim, what) - self.x_mean) / self.x_std).astype(np.float32)

    def _targets(self, data: Any, what: str) -> np.ndarray:
        return ((generative.as_rows(data, self.dim, what) - self.y_mean) / self.y_std).astype(np.float32)

    def fit(self, data: Any, *, given: Any = None, seed: int | None = None) -> MDN:
        if given is None:
            raise DataError("mdn.fit: an mdn is conditional; pass the inputs as given=")
        self.x_mean, self.x_std = generative.mean_std(generative.as_rows(given, self.input_dim, "mdn.fit"))
        self.y_mean, self.y_std = generative.mean_std(generative.as_rows(data, self.dim, "mdn.fit"))
        x, y = self._given(given, "mdn.fit"), self._targets(data, "mdn.fit")
        if x.shape[0] != y.shape[0]:
            raise DataError(f"mdn.fit: {x.shape[0]} input rows for {y.shape[0]} target rows")
        with generative.one_blas_thread():
            self.history = train_fit(self.network, x, y, loss=self.loss, lr=self.lr, epochs=self.epochs,
                                     batch_size=self.batch_size, seed=self.seed if seed is None else seed, quiet=True)
        return self

    def log_prob(self, data: Any, *, given: Any = None) -> np.ndarray:
        x, y = self._given(given, "mdn.log_prob"), self._targets(data, "mdn.log_prob")
        return -self.loss.per_row(self.network.forward(x), y) - np.log(self.y_std).sum()

    def sample(self, n: int, seed: int, *, given: Any = None) -> np.ndarray:
        x = self._given(given, "mdn.sample")
        if x.shape[0] != n:
            raise DataError(f"mdn.sample: n={n} but {x.shape[0]} rows of inputs given (one sample per input row)")
        K, d = self.components, self.dim
        pred = self.network.forward(x).astype(np.float64)
        logits = pred[:, :K]
        means = pred[:, K:K + K * d].reshape(n, K, d)
        stds = np.exp(pred[:, K + K * d:].reshape(n, K, d))
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        rng = np.random.default_rng(seed)
        which = (rng.random((n, 1)) > probs.cumsum(axis=1)).sum(axis=1).clip(max=K - 1)
        rows = np.arange(n)
        y = means[rows, which] + stds[rows, which] * rng.standard_normal((n, d))
        return y * self.y_std + self.y_mean

    def config(self) -> dict[str, Any]:
        return {"input_dim": self.input_dim, "dim": self.dim, "components": self.components,
                "hidden": list(self.hidden), "activation": self.activation, "epochs": self.epochs,
                "batch_size": self.batch_size, "lr": self.lr, "seed": self.seed}

    def tensors(self) -> dict[str, np.ndarray]:
        return {"network": self.network.theta, "x_mean": self.x_mean, "x_std": self.x_std,
                "y_mean": self.y_mean, "y_std": self.y_std}


class MDNType:
    """Builds an :class:`MDN` from inputs of ``input_shape`` to targets of ``output_size`` values."""

    name = "mdn"
    description = "mixture density network p(y | x) for continuous targets; a conditional generative model"

    def build(self, input_shape: tuple[int, ...], output_size: int, *, seed: int = 0, **options: Any) -> MDN:
        if output_size < 1:
            raise SpecError(f"mdn: output_size must be positive, got {output_size}")
        return MDN(int(np.prod(input_shape)), output_size, seed=seed, **options)

    def restore(self, config: dict[str, Any], tensors: dict[str, np.ndarray]) -> MDN:
        model = MDN(**config)
        model.network.theta[:] = tensors["network"]
        for name in ("x_mean", "x_std", "y_mean", "y_std"):
            setattr(model, name, tensors[name].copy())
        return model
