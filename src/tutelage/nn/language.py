"""A character/byte language model: a tokenizer, the :class:`~tutelage.nn.transformer.GPT`, training and sampling.

>>> lm = LanguageModel(Tokenizer("ab "), context=8, layers=1, width=16, heads=2, seed=0)
>>> history = lm.fit("ab " * 200, steps=60, batch_size=8, lr=3e-2, seed=0)
>>> lm.generate("ab ab", max_tokens=6, temperature=0)
' ab ab'
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tutelage.errors import DataError
from tutelage.generative import SavesAsSafetensors
from tutelage.nn.attention import sequence_cross_entropy, soft_cross_entropy
from tutelage.nn.optim import Adam, clip_grad_norm, cosine, warmup
from tutelage.nn.transformer import GPT, GPTConfig, layout, sample_tokens

BYTES = "bytes"


class Tokenizer:
    """Characters of ``alphabet`` (one id each, in order), or UTF-8 bytes when ``alphabet == "bytes"``."""

    def __init__(self, alphabet: str = BYTES):
        if not isinstance(alphabet, str) or not alphabet:
            raise DataError("alphabet must be a non-empty string (or 'bytes')")
        self.alphabet = alphabet
        if alphabet != BYTES:
            if len(set(alphabet)) != len(alphabet):
                raise DataError("alphabet repeats a character")
            self._ids = {ch: i for i, ch in enumerate(alphabet)}

    @classmethod
    def for_text(cls, text: str) -> Tokenizer:
        """Every character that occurs in ``text``, sorted."""
        return cls("".join(sorted(set(text))))

    @property
    def size(self) -> int:
        return 256 if self.alphabet == BYTES else len(self.alphabet)

    def encode(self, text: str) -> np.ndarray:
        if self.alphabet == BYTES:
            return np.frombuffer(text.encode("utf-8"), np.uint8).astype(np.int64)
        try:
            return np.fromiter((self._ids[ch] for ch in text), np.int64, len(text))
        except KeyError as exc:
            raise DataError(f"character {exc.args[0]!r} is not in the model's alphabet") from None

    def decode(self, ids: Iterable[int]) -> str:
        if self.alphabet == BYTES:
            return bytes(int(i) for i in ids).decode("utf-8", errors="replace")
        return "".join(self.alphabet[int(i)] for i in ids)


def teacher_probs(logits: np.ndarray, temperature: float, top_k: int = 0) -> np.ndarray:
    """``softmax(logits / T)`` over the last axis, kept to the ``top_k`` largest (renormalized) when > 0."""
    z = logits / temperature
    if 0 < top_k < z.shape[-1]:
        z = np.where(z >= np.partition(z, -top_k, axis=-1)[..., -top_k:-top_k + 1], z, -np.inf)
    p = np.exp(z - z.max(-1, keepdims=True))
    return (p / p.sum(-1, keepdims=True)).astype(np.float32)


class LanguageModel(SavesAsSafetensors):
    """A causal LM over a :class:`Tokenizer`; saved as safetensors with the tokenizer in the header."""

    model_type = "lm"
    conditional = False

    def __init__(self, tokenizer: Tokenizer, *, context: int = 64, layers: int = 2, width: int = 64, heads: int = 4,
                 seed: int = 0, theta: np.ndarray | None = None):
        self.tokenizer = tokenizer
        self.seed = seed
        self.gpt = GPT(GPTConfig(tokenizer.size, context, layers, width, heads), seed=seed, theta=theta)

    @property
    def context(self) -> int:
        return self.gpt.config.context

    def _stream(self, text: str | np.ndarray) -> np.ndarray:
        ids = self.tokenizer.encode(text) if isinstance(text, str) else np.asarray(text, np.int64)
        if ids.size < 2:
            raise DataError("the text must hold at least two tokens")
        return ids

    def fit(self, text: str | np.ndarray, *, steps: int, batch_size: int = 16, lr: float = 3e-3, seed: int = 0,
            validation: str | np.ndarray | None = None, every: int = 0, clip: float = 1.0,
            teacher: Any = None, temperature: float = 1.0, alpha: float = 0.5,
            top_k: int = 0) -> list[dict]:
        """Adam on random windows of ``text`` (cosine decay after a short warm-up); returns the loss history.

        ``every > 0`` also records the validation loss every that many steps.
        With a ``teacher`` (same tokenizer) the loss is token-level distillation:
        ``alpha`` × the soft cross-entropy to the teacher's softmax at
        ``temperature`` (its ``top_k`` tokens only, renormalized, when > 0;
        gradient scaled by T²) + (1 − ``alpha``) × the next-token loss. The
        ``teacher`` may also be stored top-k logits over this very text
        (:class:`tutelage.methods.text_topk.TopKTargets`), read instead of a teacher forward pass.
        """
        if teacher is not None and teacher.tokenizer.alphabet != self.tokenizer.alphabet:
            raise DataError("the teacher and the student must share a tokenizer")
        ids = self._stream(text)
        t = min(self.context, ids.size - 1)
        rng = np.random.default_rng(seed)
        optimizer = Adam(warmup(cosine(lr, steps, lr / 10), min(100, steps // 10)))
        history = []
        for step in range(steps):
            starts = rng.integers(0, ids.size - t, batch_size)
            window = ids[starts[:, None] + np.arange(t + 1)]
            self.gpt.zero_grad()
            logits = self.gpt.forward(window[:, :-1])
            value, grad = sequence_cross_entropy(logits, window[:, 1:])
            if teacher is not None:
                z = (teacher.gpt.forward(window[:, :-1]) if isinstance(teacher, LanguageModel)
                     else teacher.logits_at(window[:, :-1], starts))
                probs = teacher_probs(z, temperature, top_k)
                soft, soft_grad = soft_cross_entropy(logits, probs, temperature)
                value, grad = alpha * soft + (1 - alpha) * value, alpha * soft_grad + (1 - alpha) * grad
            self.gpt.backward(grad)
            if clip:
                clip_grad_norm(self.gpt, clip)
            optimizer.step(self.gpt)
            row = {"step": step + 1, "loss": value}
            if validation is not None and every and ((step + 1) % every == 0 or step + 1 == steps):
                row["validation_loss"] = self.loss(validation)
            history.append(row)
        return history

    def token_losses(self, text: str | np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Per-token NLL (nats) of every token after the first, over consecutive windows of the context."""
        ids = self._stream(text)
        t = self.context
        out = []
        for start in range(0, ids.size - 1, t * batch_size):
            chunk = [ids[s:s + t + 1] for s in range(start, min(start + t * batch_size, ids.size - 1), t)]
            full = [c for c in chunk if c.size == t + 1]
            if full:
                out.append(self._window_losses(np.stack(full)))
            if chunk[-1].size < t + 1:
                out.append(self._window_losses(chunk[-1][None]))
        return np.concatenate(out)

    def _window_losses(self, window: np.ndarray) -> np.ndarray:
        logits = self.gpt.forward(window[:, :-1]).astype(np.float64)
        top = logits.max(-1, keepdims=True)
        logz = np.log(np.exp(logits - top).sum(-1)) + top[..., 0]
        picked = np.take_along_axis(logits, window[:, 1:, None], -1)[..., 0]
        return (logz - picked).reshape(-1)

    def loss(self, text: str | np.ndarray) -> float:
        """Mean NLL in nats per token."""
        return float(self.token_losses(text).mean())

    def log_prob(self, texts: list[str]) -> np.ndarray:
        """Total log-likelihood of each text (its first token given)."""
        return np.array([-self.token_losses(text).sum() for text in texts])

    def generate(self, prompt: str, max_tokens: int, temperature: float = 1.0, top_k: int = 0, seed: int = 0) -> str:
        """Continue ``prompt`` by ``max_tokens`` tokens (KV-cache decoding); returns only the continuation."""
        ids = self.tokenizer.encode(prompt)
        return self.tokenizer.decode(sample_tokens(self.gpt, [int(i) for i in ids], max_tokens, temperature,
                                                   top_k, seed))

    # -- files -------------------------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        return {"alphabet": self.tokenizer.alphabet, **{k: v for k, v in self.gpt.config.to_dict().items()
                                                        if k != "vocab"}, "seed": self.seed}

    def tensors(self) -> dict[str, np.ndarray]:
        return {name: view.copy() for name, view in self.gpt.p.items()}

    @classmethod
    def restore(cls, config: dict[str, Any], tensors: dict[str, np.ndarray]) -> LanguageModel:
        options = {k: config[k] for k in ("context", "layers", "width", "heads", "seed")}
        model = cls(Tokenizer(config["alphabet"]), **options)
        for name, shape in layout(model.gpt.config):
            if tuple(tensors[name].shape) != shape:
                raise ValueError(f"tensor {name!r} is {list(tensors[name].shape)}, expected {list(shape)}")
            model.gpt.p[name][...] = tensors[name]
        return model

