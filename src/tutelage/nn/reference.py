"""A pure-numpy reference of every layer and loss, in any float dtype.

Slow and plain on purpose: the tests compare the Cython core against it, and
check it by finite differences in float64. Layer functions take the layer
(for its settings) and its parameters; ``forward`` returns ``(y, cache)`` and
``backward`` returns ``(dx, {param: gradient})``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.special import erf

Params = dict[str, np.ndarray]


# -- element-wise -----------------------------------------------------------------------


def _elementwise(f: Callable, df: Callable) -> tuple[Callable, Callable]:
    def forward(layer, params, x):
        y = f(x)
        return y, (x, y)

    def backward(layer, params, cache, dy):
        x, y = cache
        return dy * df(x, y), {}

    return forward, backward


relu = _elementwise(lambda x: np.maximum(x, 0), lambda x, y: (y > 0).astype(x.dtype))
tanh = _elementwise(np.tanh, lambda x, y: 1 - y * y)
sigmoid = _elementwise(lambda x: 1 / (1 + np.exp(-x)), lambda x, y: y * (1 - y))
gelu = _elementwise(lambda x: 0.5 * x * (1 + erf(x / np.sqrt(2))),
                    lambda x, y: 0.5 * (1 + erf(x / np.sqrt(2))) + x * np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi))


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax_forward(layer, params, x):
    y = _softmax(x)
    return y, y


def softmax_backward(layer, params, y, dy):
    return y * (dy - (dy * y).sum(axis=-1, keepdims=True)), {}


def log_softmax_forward(layer, params, x):
    y = _log_softmax(x)
    return y, y


def log_softmax_backward(layer, params, y, dy):
    return dy - np.exp(y) * dy.sum(axis=-1, keepdims=True), {}


# -- layers with parameters -----------------------------------------------------------------


def dense_forward(layer, params, x):
    return x @ params["weight"] + params["bias"], x


def dense_backward(layer, params, x, dy):
    rows_x = x.reshape(-1, x.shape[-1])
    rows_dy = dy.reshape(-1, dy.shape[-1])
    return dy @ params["weight"].T, {"weight": rows_x.T @ rows_dy, "bias": rows_dy.sum(axis=0)}


def layer_norm_forward(layer, params, x):
    mean = x.mean(axis=-1, keepdims=True)
    rstd = 1 / np.sqrt(x.var(axis=-1, keepdims=True) + layer.eps)
    xhat = (x - mean) * rstd
    return xhat * params["gamma"] + params["beta"], (xhat, rstd)


def layer_norm_backward(layer, params, cache, dy):
    xhat, rstd = cache
    g = dy * params["gamma"]
    dx = rstd * (g - g.mean(axis=-1, keepdims=True) - xhat * (g * xhat).mean(axis=-1, keepdims=True))
    axes = tuple(range(dy.ndim - 1))
    return dx, {"gamma": (dy * xhat).sum(axis=axes), "beta": dy.sum(axis=axes)}


def embedding_forward(layer, params, x):
    ids = x.astype(np.int64)
    return params["weight"][ids], ids


def embedding_backward(layer, params, ids, dy):
    dw = np.zeros_like(params["weight"])
    np.add.at(dw, ids.reshape(-1), dy.reshape(-1, dy.shape[-1]))
    return np.zeros(ids.shape, dtype=dy.dtype), {"weight": dw}


def _windows(x: np.ndarray, layer) -> np.ndarray:
    """(N, C, OH, OW, k, k) receptive fields of a padded batch."""
    p, k, s = layer.padding, layer.kernel, layer.stride
    padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    return sliding_window_view(padded, (k, k), axis=(2, 3))[:, :, ::s, ::s]


def conv2d_forward(layer, params, x):
    y = np.einsum("ncijkl,ockl->noij", _windows(x, layer), params["weight"]) + params["bias"][:, None, None]
    return y, x


def conv2d_backward(layer, params, x, dy):
    p, k, s = layer.padding, layer.kernel, layer.stride
    dw = np.einsum("ncijkl,noij->ockl", _windows(x, layer), dy)
    n, c, h, w = x.shape
    dpad = np.zeros((n, c, h + 2 * p, w + 2 * p), dtype=dy.dtype)
    contrib = np.einsum("noij,ockl->ncijkl", dy, params["weight"])
    for ki in range(k):
        for kj in range(k):
            dpad[:, :, ki:ki + s * dy.shape[2]:s, kj:kj + s * dy.shape[3]:s] += contrib[..., ki, kj]
    return dpad[:, :, p:p + h, p:p + w], {"weight": dw, "bias": dy.sum(axis=(0, 2, 3))}


def maxpool2d_forward(layer, params, x):
    k = layer.size
    n, c, h, w = x.shape
    oh, ow = h // k, w // k
    blocks = x[:, :, :oh * k, :ow * k].reshape(n, c, oh, k, ow, k).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh, ow, k * k)
    first = blocks.argmax(axis=-1)  # the first maximum in row-major window order
    return blocks.max(axis=-1), (x.shape, first)


def maxpool2d_backward(layer, params, cache, dy):
    shape, first = cache
    k = layer.size
    n, c, oh, ow = dy.shape
    blocks = np.zeros((n, c, oh, ow, k * k), dtype=dy.dtype)
    np.put_along_axis(blocks, first[..., None], dy[..., None], axis=-1)
    dx = np.zeros(shape, dtype=dy.dtype)
    dx[:, :, :oh * k, :ow * k] = blocks.reshape(n, c, oh, ow, k, k).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh * k, ow * k)
    return dx, {}


def planes_forward(layer, params, x):
    c, h, w = layer.image
    image = x[:, :c * h * w].reshape(-1, c, h, w) * layer.scale
    extras = np.broadcast_to(x[:, c * h * w:, None, None], (x.shape[0], x.shape[1] - c * h * w, h, w))
    return np.concatenate([image, extras], axis=1), None


def planes_backward(layer, params, cache, dy):
    c = layer.image[0]
    return np.concatenate([dy[:, :c].reshape(len(dy), -1) * layer.scale, dy[:, c:].sum(axis=(2, 3))], axis=1), {}


def flatten_forward(layer, params, x):
    return x.reshape(x.shape[0], -1), x.shape


def flatten_backward(layer, params, shape, dy):
    return dy.reshape(shape), {}


def dropout_forward(layer, params, x, mask=None):
    """Identity without a mask (inference); ``x * mask`` with one (training, mask given by the test)."""
    return (x if mask is None else x * mask), mask


def dropout_backward(layer, params, mask, dy):
    return (dy if mask is None else dy * mask), {}


LAYERS: dict[str, tuple[Callable, Callable]] = {
    "dense": (dense_forward, dense_backward),
    "relu": relu,
    "tanh": tanh,
    "sigmoid": sigmoid,
    "gelu": gelu,
    "softmax": (softmax_forward, softmax_backward),
    "log_softmax": (log_softmax_forward, log_softmax_backward),
    "layer_norm": (layer_norm_forward, layer_norm_backward),
    "embedding": (embedding_forward, embedding_backward),
    "conv2d": (conv2d_forward, conv2d_backward),
    "maxpool2d": (maxpool2d_forward, maxpool2d_backward),
    "flatten": (flatten_forward, flatten_backward),
    "dropout": (dropout_forward, dropout_backward),
    "planes": (planes_forward, planes_backward),
}


# -- whole models ---------------------------------------------------------------------------------


def model_params(model: Any, dtype: Any = np.float64) -> list[Params]:
    """Each layer's parameters, copied into ``dtype``."""
    return [{name: view.astype(dtype) for name, view in layer.params.items()} for layer in model.layers]


def model_forward(model: Any, X: np.ndarray, params: list[Params] | None = None, dtype: Any = np.float64):
    """Run a whole model on a batch (inference); returns ``(y, tape)`` for :func:`model_backward`."""
    params = params if params is not None else model_params(model, dtype)
    x = np.asarray(X, dtype=dtype)
    tape = []
    for layer, p in zip(model.layers, params):
        x, cache = LAYERS[layer.type][0](layer, p, x)
        tape.append(cache)
    return x, tape


def model_backward(model: Any, tape: list, dY: np.ndarray, params: list[Params] | None = None,
                   dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """``(dX, grad)`` with ``grad`` laid out like θ."""
    params = params if params is not None else model_params(model, dtype)
    grad = np.zeros(model.theta.size, dtype=dtype)
    base = model.theta.__array_interface__["data"][0]
    dy = np.asarray(dY, dtype=dtype)
    for layer, p, cache in reversed(list(zip(model.layers, params, tape))):
        dy, dparams = LAYERS[layer.type][1](layer, p, cache, dy)
        for name, g in dparams.items():
            view = layer.params[name]
            start = (view.__array_interface__["data"][0] - base) // view.itemsize
            grad[start:start + view.size] += g.reshape(-1)
    return dy, grad


# -- losses: (value, gradient) -----------------------------------------------------------------------


def mse(pred, target):
    diff = pred - target.reshape(pred.shape)
    return float(np.mean(diff**2)), 2 * diff / diff.size


def cross_entropy(logits, target):
    logp = _log_softmax(logits)
    n = logits.shape[0]
    if target.ndim == 1:
        target = np.eye(logits.shape[1], dtype=logits.dtype)[target]
    value = -float((target * logp).sum()) / n
    return value, (np.exp(logp) * target.sum(axis=1, keepdims=True) - target) / n


def distillation(student, teacher, labels, temperature, alpha):
    n = student.shape[0]
    log_ps = _log_softmax(student / temperature)
    log_pt = _log_softmax(teacher / temperature)
    pt = np.exp(log_pt)
    kl = float((pt * (log_pt - log_ps)).sum()) / n
    value = alpha * temperature**2 * kl
    grad = alpha * temperature * (np.exp(log_ps) - pt) / n
    if labels is not None and alpha < 1:
        ce, dce = cross_entropy(student, labels)
        value += (1 - alpha) * ce
        grad = grad + (1 - alpha) * dce
    return value, grad


def gaussian_nll(pred, target):
    k = target.shape[1]
    mean, log_std = pred[:, :k], pred[:, k:]
    z = (target - mean) * np.exp(-log_std)
    value = float(np.mean(0.5 * z * z + log_std + 0.5 * np.log(2 * np.pi)))
    scale = 1 / target.size
    return value, np.concatenate([-z * np.exp(-log_std) * scale, (1 - z * z) * scale], axis=1)


def bradley_terry(chosen, rejected):
    margin = chosen - rejected
    value = float(np.mean(np.logaddexp(0, -margin)))
    p_wrong = 1 / (1 + np.exp(margin))
    return value, -p_wrong / margin.size, p_wrong / margin.size


# -- generative: per-row sums over features, means over rows ------------------------------------------


def bernoulli_nll(logits, target):
    value = np.logaddexp(0, logits) - target * logits
    return float(value.sum()) / logits.shape[0], (1 / (1 + np.exp(-logits)) - target) / logits.shape[0]


def gaussian_latent(stats, eps, dz, beta=1.0):
    """``(z, kl, dstats)`` of the reparameterized latent ``z = mean + exp(½·log_var)·eps``."""
    k = eps.shape[1]
    mean, log_var = stats[:, :k], stats[:, k:]
    z = mean + np.exp(0.5 * log_var) * eps
    rows = stats.shape[0]
    kl = float((0.5 * (mean**2 + np.exp(log_var) - 1 - log_var)).sum()) / rows
    dmean = beta * mean / rows + dz
    dlog_var = beta * 0.5 * (np.exp(log_var) - 1) / rows + dz * eps * 0.5 * np.exp(0.5 * log_var)
    return z, kl, np.concatenate([dmean, dlog_var], axis=1)


def mixture_nll(pred, target, components):
    rows, d = target.shape
    K = components
    logits = pred[:, :K]
    mean = pred[:, K:K + K * d].reshape(rows, K, d)
    log_std = pred[:, K + K * d:].reshape(rows, K, d)
    z = (target[:, None, :] - mean) * np.exp(-log_std)
    log_pi = _log_softmax(logits)
    lc = log_pi - (0.5 * z * z + log_std + 0.5 * np.log(2 * np.pi)).sum(axis=2)
    top = lc.max(axis=1, keepdims=True)
    norm = top + np.log(np.exp(lc - top).sum(axis=1, keepdims=True))
    resp = np.exp(lc - norm)
    dlogits = (np.exp(log_pi) - resp) / rows
    dmean = -resp[:, :, None] * z * np.exp(-log_std) / rows
    dlog_std = resp[:, :, None] * (1 - z * z) / rows
    grad = np.concatenate([dlogits, dmean.reshape(rows, -1), dlog_std.reshape(rows, -1)], axis=1)
    return -float(norm.sum()) / rows, grad


# -- sequences ------------------------------------------------------------------------------


def causal_attention(qkv: np.ndarray, heads: int) -> tuple[np.ndarray, np.ndarray]:
    """``(batch, time, 3d)`` → output ``(batch, time, d)`` and the causal softmax ``(batch, heads, time, time)``."""
    b, t, d3 = qkv.shape
    d = d3 // 3
    q, k, v = (qkv[..., i * d:(i + 1) * d].reshape(b, t, heads, d // heads).transpose(0, 2, 1, 3) for i in range(3))
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d // heads)
    scores = np.where(np.tril(np.ones((t, t), bool)), scores, -np.inf)
    probs = _softmax(scores)
    return (probs @ v).transpose(0, 2, 1, 3).reshape(b, t, d), probs


def causal_attention_backward(qkv: np.ndarray, probs: np.ndarray, dout: np.ndarray, heads: int) -> np.ndarray:
    """The gradient of :func:`causal_attention`'s output w.r.t. ``qkv``."""
    b, t, d3 = qkv.shape
    d = d3 // 3
    q, k, v = (qkv[..., i * d:(i + 1) * d].reshape(b, t, heads, d // heads).transpose(0, 2, 1, 3) for i in range(3))
    do = dout.reshape(b, t, heads, d // heads).transpose(0, 2, 1, 3)
    dp = do @ v.transpose(0, 1, 3, 2)
    dv = probs.transpose(0, 1, 3, 2) @ do
    ds = probs * (dp - (dp * probs).sum(-1, keepdims=True)) / np.sqrt(d // heads)
    dq, dk = ds @ k, ds.transpose(0, 1, 3, 2) @ q
    return np.concatenate([g.transpose(0, 2, 1, 3).reshape(b, t, d) for g in (dq, dk, dv)], axis=-1)


def sequence_cross_entropy(logits: np.ndarray, targets: np.ndarray):
    """Mean token NLL over ``(…, vocab)`` logits and integer ``targets`` of the leading shape; and its gradient."""
    flat = logits.reshape(-1, logits.shape[-1])
    ids = np.asarray(targets).reshape(-1).astype(np.int64)
    logp = _log_softmax(flat)
    grad = np.exp(logp)
    grad[np.arange(len(ids)), ids] -= 1.0
    return float(-logp[np.arange(len(ids)), ids].mean()), (grad / len(ids)).reshape(logits.shape)


def soft_cross_entropy(logits: np.ndarray, probs: np.ndarray, temperature: float):
    """Mean ``−Σ p·log softmax(logits/T)`` over rows and its gradient × T² (Hinton's scaling)."""
    flat, q = logits.reshape(-1, logits.shape[-1]), probs.reshape(-1, logits.shape[-1])
    logp = _log_softmax(flat / temperature)
    grad = temperature * (np.exp(logp) * q.sum(-1, keepdims=True) - q) / len(flat)
    return float(-(q * logp).sum(-1).mean()), grad.reshape(logits.shape)


def gpt_forward(config: Any, params: Params, ids: np.ndarray) -> np.ndarray:
    """Logits of :class:`tutelage.nn.transformer.GPT` (pre-norm blocks, learned positions) in the params' dtype."""
    def norm(x, name):
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-5) * params[name + ".g"] + params[name + ".b"]

    def dense(x, name):
        return x @ params[name + ".w"] + params[name + ".b"]

    t = ids.shape[1]
    x = params["tok"][ids] + params["pos"][:t]
    for i in range(config.layers):
        q = f"h{i}."
        x = x + dense(causal_attention(dense(norm(x, q + "ln1"), q + "qkv"), config.heads)[0], q + "proj")
        f = dense(norm(x, q + "ln2"), q + "fc")
        x = x + dense(0.5 * f * (1.0 + erf(f / np.sqrt(2.0))), q + "out")
    return dense(norm(x, "lnf"), "head")
