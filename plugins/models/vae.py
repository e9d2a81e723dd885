"""The ``vae`` model type: a variational autoencoder with MLP encoder and decoder on the Cython core.

The encoder maps a row to ``[mean, log_var]`` of a Gaussian latent; ``z`` is drawn
by the reparameterization trick so the decoder's input gradient flows back into
the encoder; the loss is the negative ELBO, reconstruction NLL + β·KL(q ‖ N(0, I)).
``likelihood="bernoulli"`` reads rows in [0, 1] (digits scaled by 1/16) and
samples the decoder's mean; ``"gaussian"`` standardizes numeric columns and
samples the decoder's Gaussian.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tutelage import generative, nn
from tutelage.errors import DataError, SpecError
from tutelage.nn import losses
from tutelage_plugins.models.common import activation_layer, sizes

HALF_LOG_2PI = 0.5 * float(np.log(2 * np.pi))


def _mlp(input_size: int, hidden: tuple[int, ...], activation: str, output_size: int, seed: int) -> nn.Model:
    layers: list[nn.Layer] = []
    for units in hidden:
        layers += [nn.Dense(units), activation_layer(activation, "vae")]
    return nn.Model([*layers, nn.Dense(output_size)], (input_size,), seed=seed)


class VAE(generative.SavesAsSafetensors):
    """A VAE over rows of ``dim`` values; :class:`tutelage.generative.GenerativeModel` (``log_prob`` is the ELBO)."""

    model_type = "vae"
    conditional = False

    def __init__(self, dim: int, *, latent: int = 8, hidden: Any = (128,), activation: str = "relu",
                 likelihood: str = "bernoulli", beta: float = 1.0, epochs: int = 30, batch_size: int = 64,
                 lr: float = 1e-3, seed: int = 0):
        if likelihood not in ("bernoulli", "gaussian"):
            raise SpecError(f"vae: field 'likelihood' must be 'bernoulli' or 'gaussian', got {likelihood!r}")
        self.dim, self.latent, self.hidden = int(dim), sizes(latent, "latent", "vae")[0], sizes(hidden, "hidden", "vae")
        self.activation, self.likelihood, self.beta = activation, likelihood, float(beta)
        self.epochs, self.batch_size, self.lr, self.seed = int(epochs), int(batch_size), float(lr), int(seed)
        widths = 2 if likelihood == "gaussian" else 1
        self.encoder = _mlp(self.dim, self.hidden, activation, 2 * self.latent, seed)
        self.decoder = _mlp(self.latent, self.hidden[::-1], activation, widths * self.dim, seed + 1)
        self.data_mean, self.data_std = np.zeros(self.dim), np.ones(self.dim)
        self.latent_fn = losses.GaussianLatent(self.beta)
        self.history: list[float] = []
        self.info: dict[str, Any] = {}

    # -- data scaling --------------------------------------------------------------------------------

    def _rows(self, data: Any, what: str) -> np.ndarray:
        x = generative.as_rows(data, self.dim, what)
        if self.likelihood == "bernoulli" and x.size and (x.min() < 0 or x.max() > 1):
            raise DataError(f"{what}: a Bernoulli VAE needs values in [0, 1], got range [{x.min():.3g}, {x.max():.3g}]")
        return ((x - self.data_mean) / self.data_std).astype(np.float32)

    def _reconstruction(self, out: np.ndarray, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Mean over rows of the NLL summed over features, and its gradient."""
        if self.likelihood == "bernoulli":
            return losses.BernoulliNLL()(out, x)
        value, grad = losses.GaussianNLL()(out, x)
        return value * self.dim, grad * self.dim

    # -- training --------------------------------------------------------------------------------------

    def fit(self, data: Any, *, given: Any = None, seed: int | None = None) -> VAE:
        if self.likelihood == "gaussian":
            self.data_mean, self.data_std = generative.mean_std(generative.as_rows(data, self.dim, "vae.fit"))
        x = self._rows(data, "vae.fit")
        rng = np.random.default_rng(self.seed if seed is None else seed)
        self.history = []
        with generative.one_blas_thread():
            self._epochs(x, rng)
        return self

    def _epochs(self, x: np.ndarray, rng: np.random.Generator) -> None:
        """Adam on the negative ELBO, one optimizer per network; appends each epoch's mean loss to ``history``."""
        n, size = x.shape[0], self.batch_size
        enc, dec, latent = self.encoder, self.decoder, self.latent_fn
        opt_enc, opt_dec = nn.optim.Adam(self.lr), nn.optim.Adam(self.lr)
        for _ in range(self.epochs):
            order, total = rng.permutation(n), 0.0
            for start in range(0, n, size):
                xb = x[order[start:start + size]]
                stats = enc.forward(xb, training=True)
                eps = rng.standard_normal((xb.shape[0], self.latent), dtype=np.float32)
                out = dec.forward(latent.sample(stats, eps), training=True)
                rec, dout = self._reconstruction(out, xb)
                enc.zero_grad()
                dec.zero_grad()
                kl, dstats = latent.backward(stats, eps, dec.backward(dout))
                enc.backward(dstats, input_grad=False)
                opt_enc.step(enc)
                opt_dec.step(dec)
                total += (rec + self.beta * kl) * xb.shape[0]
            self.history.append(total / max(n, 1))

    # -- scoring and sampling ----------------------------------------------------------------------------

    def elbo(self, data: Any, *, seed: int = 0, samples: int = 1) -> np.ndarray:
        """Each row's ELBO in nats (β = 1), averaged over ``samples`` seeded latent draws."""
        x = self._rows(data, "vae.elbo")
        rng = np.random.default_rng(seed)
        stats = self.encoder.forward(x)
        kl = np.empty(x.shape[0])
        self.latent_fn.backward(stats, np.zeros((x.shape[0], self.latent), np.float32), per_row=kl)
        rec = np.zeros(x.shape[0])
        for _ in range(samples):
            eps = rng.standard_normal((x.shape[0], self.latent), dtype=np.float32)
            out = self.decoder.forward(self.latent_fn.sample(stats, eps))
            rec += self._reconstruction_rows(out, x) / samples
        return -(rec + kl) - np.log(self.data_std).sum()

    def _reconstruction_rows(self, out: np.ndarray, x: np.ndarray) -> np.ndarray:
        if self.likelihood == "bernoulli":
            return losses.BernoulliNLL().per_row(out, x)
        mean, log_std = out[:, :self.dim].astype(np.float64), out[:, self.dim:].astype(np.float64)
        z = (x - mean) * np.exp(-log_std)
        return (0.5 * z * z + log_std + HALF_LOG_2PI).sum(axis=1)

    def log_prob(self, data: Any, *, given: Any = None) -> np.ndarray:
        """The ELBO of each row (a lower bound on its log-likelihood), with a fixed seed."""
        return self.elbo(data)

    def sample(self, n: int, seed: int, *, given: Any = None) -> np.ndarray:
        rng = np.random.default_rng(seed)
        out = self.decoder.forward(rng.standard_normal((n, self.latent), dtype=np.float32)).astype(np.float64)
        if self.likelihood == "bernoulli":
            return 1.0 / (1.0 + np.exp(-out))
        mean, std = out[:, :self.dim], np.exp(out[:, self.dim:])
        return (mean + std * rng.standard_normal(mean.shape)) * self.data_std + self.data_mean

    # -- files -------------------------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        return {"dim": self.dim, "latent": self.latent, "hidden": list(self.hidden), "activation": self.activation,
                "likelihood": self.likelihood, "beta": self.beta, "epochs": self.epochs,
                "batch_size": self.batch_size, "lr": self.lr, "seed": self.seed}

    def tensors(self) -> dict[str, np.ndarray]:
        return {"encoder": self.encoder.theta, "decoder": self.decoder.theta,
                "data_mean": self.data_mean, "data_std": self.data_std}


class VAEType:
    """Builds a :class:`VAE` over rows of ``input_shape`` (``output_size`` is the same row size)."""

    name = "vae"
    description = "variational autoencoder (MLP encoder/decoder, ELBO); a generative model"

    def build(self, input_shape: tuple[int, ...], output_size: int, *, seed: int = 0, **options: Any) -> VAE:
        return VAE(generative.row_size(input_shape, output_size, "vae"), seed=seed, **options)

    def restore(self, config: dict[str, Any], tensors: dict[str, np.ndarray]) -> VAE:
        model = VAE(**config)
        for name in ("encoder", "decoder"):
            getattr(model, name).theta[:] = tensors[name]
        model.data_mean, model.data_std = tensors["data_mean"].copy(), tensors["data_std"].copy()
        return model
