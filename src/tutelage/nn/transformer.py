"""A small GPT (pre-norm causal transformer) on the core kernels, over one float32 θ.

Each block is ``x + Attn(LN(x))`` then ``x + MLP(LN(x))`` (GELU, 4× width):
residual paths around the op kernels of :mod:`tutelage._core.sequence`.
Positions are learned. ``forward(ids)`` → logits ``(batch, time, vocab)``;
``backward(dlogits)`` accumulates into ``grad``; :meth:`GPT.sampler` runs
batch-1 decoding with a KV cache per layer. ``theta``/``grad`` work with the
optimizers of :mod:`tutelage.nn.optim`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from tutelage._core import sequence as _s
from tutelage.errors import DataError
from tutelage.nn.attention import KVCache, causal_attention, causal_attention_backward

EPS = 1e-5


@dataclass(frozen=True)
class GPTConfig:
    """The architecture: vocabulary, context length, layers, width and heads."""

    vocab: int
    context: int = 64
    layers: int = 2
    width: int = 64
    heads: int = 4

    def __post_init__(self):
        for field in ("vocab", "context", "layers", "width", "heads"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise DataError(f"{field} must be a positive integer, got {value!r}")
        if self.width % self.heads:
            raise DataError(f"width ({self.width}) must be divisible by heads ({self.heads})")

    def to_dict(self) -> dict:
        return asdict(self)


def layout(config: GPTConfig) -> list[tuple[str, tuple[int, ...]]]:
    """Every parameter's name and shape, in θ order."""
    d, v = config.width, config.vocab
    names = [("tok", (v, d)), ("pos", (config.context, d))]
    for i in range(config.layers):
        names += [(f"h{i}.{n}", s) for n, s in (
            ("ln1.g", (d,)), ("ln1.b", (d,)), ("qkv.w", (d, 3 * d)), ("qkv.b", (3 * d,)),
            ("proj.w", (d, d)), ("proj.b", (d,)), ("ln2.g", (d,)), ("ln2.b", (d,)),
            ("fc.w", (d, 4 * d)), ("fc.b", (4 * d,)), ("out.w", (4 * d, d)), ("out.b", (d,)))]
    return names + [("lnf.g", (d,)), ("lnf.b", (d,)), ("head.w", (d, v)), ("head.b", (v,))]


def _views(flat: np.ndarray, config: GPTConfig) -> dict[str, np.ndarray]:
    out, at = {}, 0
    for name, shape in layout(config):
        size = int(np.prod(shape))
        out[name] = flat[at:at + size].reshape(shape)
        at += size
    return out


def parameter_count(config: GPTConfig) -> int:
    return sum(int(np.prod(shape)) for _, shape in layout(config))


class GPT:
    """The model: ``theta``, ``grad`` and named views ``p``/``g`` into them."""

    def __init__(self, config: GPTConfig, seed: int = 0, theta: np.ndarray | None = None):
        self.config = config
        n = parameter_count(config)
        if theta is None:
            theta = self._init(np.random.default_rng(seed), n)
        elif theta.shape != (n,):
            raise DataError(f"theta has {theta.size} values, the architecture needs {n}")
        self.theta = np.ascontiguousarray(theta, dtype=np.float32)
        self.grad = np.zeros_like(self.theta)
        self.p, self.g = _views(self.theta, config), _views(self.grad, config)
        self._tape: list | None = None

    def _init(self, rng: np.random.Generator, n: int) -> np.ndarray:
        theta = np.zeros(n, np.float32)
        views = _views(theta, self.config)
        residual_std = 0.02 / np.sqrt(2 * self.config.layers)  # GPT-2's scaled init of residual projections
        for name, view in views.items():
            if name.endswith(".g"):
                view[...] = 1.0
            elif name.endswith((".w",)) or name in ("tok", "pos"):
                std = residual_std if name.endswith(("proj.w", "out.w")) else 0.02
                view[...] = rng.normal(0.0, std, view.shape)
        return theta

    def zero_grad(self) -> None:
        self.grad[...] = 0.0

    @property
    def parameter_count(self) -> int:
        return self.theta.size

    # -- batch forward / backward ------------------------------------------------------------

    def _ids(self, ids) -> np.ndarray:
        arr = np.asarray(ids)
        if arr.ndim != 2 or arr.shape[1] > self.config.context or arr.shape[1] < 1:
            raise DataError(f"ids must be (batch, time) with 1 ≤ time ≤ {self.config.context}, got {arr.shape}")
        if arr.dtype.kind not in "iu" or arr.min() < 0 or arr.max() >= self.config.vocab:
            raise DataError(f"ids must be integers in [0, {self.config.vocab})")
        return arr.astype(np.int64)

    def forward(self, ids) -> np.ndarray:
        """Logits ``(batch, time, vocab)``; keeps what :meth:`backward` needs."""
        ids = self._ids(ids)
        c, p = self.config, self.p
        b, t = ids.shape
        rows, d = b * t, c.width
        x = np.add(p["tok"][ids], p["pos"][:t]).reshape(rows, d)
        tape = []
        for i in range(c.layers):
            q = f"h{i}."
            h1, s1 = self._norm(x, q + "ln1")
            qkv = self._dense(h1, q + "qkv", rows)
            a, probs = causal_attention(qkv.reshape(b, t, 3 * d), c.heads)
            mid = self._dense(a.reshape(rows, d), q + "proj", rows, residual=x)
            h2, s2 = self._norm(mid, q + "ln2")
            f = self._dense(h2, q + "fc", rows)
            gl, slope = np.empty_like(f), np.empty_like(f)
            _s.gelu(f, gl, slope, f.size)
            tape.append((x, h1, s1, qkv, a, probs, mid, h2, s2, slope, gl))
            x = self._dense(gl, q + "out", rows, residual=mid)
        h, s = self._norm(x, "lnf")
        self._tape = [ids, tape, x, h, s]
        return self._dense(h, "head", rows).reshape(b, t, c.vocab)

    def _dense(self, x: np.ndarray, name: str, rows: int, residual: np.ndarray | None = None) -> np.ndarray:
        """``x·W + b`` (+ ``residual``, added by the same GEMM)."""
        w, bias = self.p[name + ".w"], self.p[name + ".b"]
        y = np.empty((rows, w.shape[1]), np.float32)
        _s.dense(x, w, bias, y, rows, w.shape[0], w.shape[1], residual)
        return y

    def _norm(self, x: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
        y, stats = np.empty_like(x), np.empty(2 * x.shape[0], np.float32)
        _s.layer_norm(x, y, self.p[name + ".g"], self.p[name + ".b"], stats, x.shape[0], x.shape[1], EPS)
        return y, stats

    def _dense_grad(self, x, dy, name: str, want_dx: bool = True):
        w = self.p[name + ".w"]
        dx = np.empty((x.shape[0], w.shape[0]), np.float32) if want_dx else None
        _s.dense_grad(x, dy, w, self.g[name + ".w"], self.g[name + ".b"], dx, x.shape[0], w.shape[0], w.shape[1])
        return dx

    def _norm_grad(self, x, dy, stats, name: str, into: np.ndarray | None = None) -> np.ndarray:
        """The layer norm's input gradient, added to ``into`` (the residual path's gradient) when given."""
        dx = np.empty_like(x) if into is None else into
        _s.layer_norm_grad(x, dy, dx, self.p[name + ".g"], stats, self.g[name + ".g"], self.g[name + ".b"],
                           x.shape[0], x.shape[1], into is not None)
        return dx

    def backward(self, dlogits) -> None:
        """Accumulate ∂loss/∂θ into ``grad`` from ``dlogits`` of the last :meth:`forward`."""
        if self._tape is None:
            raise RuntimeError("backward() needs a forward() first")
        ids, tape, x, h, s = self._tape
        c = self.config
        b, t = ids.shape
        rows, d = b * t, c.width
        dy = np.ascontiguousarray(dlogits, dtype=np.float32).reshape(rows, c.vocab)
        dx = self._norm_grad(x, self._dense_grad(h, dy, "head"), s, "lnf")
        scratch = np.empty(t * t, np.float32)
        for i in range(c.layers - 1, -1, -1):
            q = f"h{i}."
            x_in, h1, s1, qkv, a, probs, mid, h2, s2, slope, gl = tape[i]
            df = self._dense_grad(gl, dx, q + "out")
            df *= slope
            self._norm_grad(mid, self._dense_grad(h2, df, q + "fc"), s2, q + "ln2", into=dx)
            da = self._dense_grad(a.reshape(rows, d), dx, q + "proj")
            dqkv = causal_attention_backward(qkv.reshape(b, t, 3 * d), probs, da.reshape(b, t, d), c.heads, scratch)
            self._norm_grad(x_in, self._dense_grad(h1, dqkv.reshape(rows, 3 * d), q + "qkv"), s1, q + "ln1", into=dx)
        _s.embedding_grad(ids.astype(np.float32).reshape(-1), dx, self.g["tok"], rows, d)
        self.g["pos"][:t] += dx.reshape(b, t, d).sum(axis=0)

    # -- batch-1 decoding ------------------------------------------------------------------------

    def sampler(self) -> Decoder:
        return Decoder(self)


class Decoder:
    """Batch-1 next-token logits with one KV cache per layer; ``push(token)`` → logits of the next token."""

    def __init__(self, model: GPT):
        c = model.config
        self.model, self.position = model, 0
        self.caches = [KVCache(c.context, c.width) for _ in range(c.layers)]
        d = c.width
        self._buf = {k: np.empty(n, np.float32) for k, n in (
            ("x", d), ("h", d), ("qkv", 3 * d), ("a", d), ("o", d), ("f", 4 * d), ("gl", 4 * d), ("slope", 4 * d),
            ("logits", c.vocab), ("stats", 2))}

    def push(self, token: int) -> np.ndarray:
        """Feed one token; returns the logits for the next (a view reused by the next call)."""
        m, c, buf = self.model, self.model.config, self._buf
        if self.position >= c.context:
            raise DataError(f"the context holds {c.context} tokens")
        p, d = m.p, c.width
        x, h, o = buf["x"], buf["h"], buf["o"]
        np.add(p["tok"][token], p["pos"][self.position], out=x)
        for i, cache in enumerate(self.caches):
            q = f"h{i}."
            _s.layer_norm(x, h, p[q + "ln1.g"], p[q + "ln1.b"], buf["stats"], 1, d, EPS)
            _s.dense(h, p[q + "qkv.w"], p[q + "qkv.b"], buf["qkv"], 1, d, 3 * d)
            cache.step(buf["qkv"], c.heads, buf["a"])
            _s.dense(buf["a"], p[q + "proj.w"], p[q + "proj.b"], o, 1, d, d)
            x += o
            _s.layer_norm(x, h, p[q + "ln2.g"], p[q + "ln2.b"], buf["stats"], 1, d, EPS)
            _s.dense(h, p[q + "fc.w"], p[q + "fc.b"], buf["f"], 1, d, 4 * d)
            _s.gelu(buf["f"], buf["gl"], buf["slope"], 4 * d)
            _s.dense(buf["gl"], p[q + "out.w"], p[q + "out.b"], o, 1, 4 * d, d)
            x += o
        _s.layer_norm(x, h, p["lnf.g"], p["lnf.b"], buf["stats"], 1, d, EPS)
        _s.dense(h, p["head.w"], p["head.b"], buf["logits"], 1, d, c.vocab)
        self.position += 1
        return buf["logits"]


def sample_tokens(model: GPT, prompt: list[int], max_tokens: int, temperature: float = 1.0, top_k: int = 0,
                  seed: int = 0) -> list[int]:
    """Continue ``prompt`` by ``max_tokens`` sampled tokens (greedy at temperature 0), keeping the last context."""
    if not prompt:
        raise DataError("the prompt must hold at least one token")
    if temperature < 0:
        raise DataError(f"temperature must be ≥ 0, got {temperature}")
    rng = np.random.default_rng(seed)
    context = model.config.context
    tokens = list(prompt)
    decoder = model.sampler()
    for token in tokens[-context:]:
        logits = decoder.push(token)
    for _ in range(max_tokens):
        if decoder.position >= context:  # slide: re-read the last half of the window
            decoder = model.sampler()
            for token in tokens[-(context // 2):]:
                logits = decoder.push(token)
        tokens.append(_pick(logits, temperature, top_k, rng))
        logits = decoder.push(tokens[-1])
    return tokens[len(prompt):]


def _pick(logits: np.ndarray, temperature: float, top_k: int, rng: np.random.Generator) -> int:
    if temperature == 0:
        return int(np.argmax(logits))
    z = logits.astype(np.float64) / temperature
    if 0 < top_k < z.size:
        z[z < np.partition(z, -top_k)[-top_k]] = -np.inf
    z = np.exp(z - z.max())
    return int(rng.choice(z.size, p=z / z.sum()))
