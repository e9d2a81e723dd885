"""The ``lm`` model type: a small causal transformer over characters or bytes (:mod:`tutelage.nn.language`)."""
from __future__ import annotations

from typing import Any

from tutelage.errors import SpecError
from tutelage.nn.language import BYTES, LanguageModel, Tokenizer

OPTIONS = ("context", "layers", "width", "heads")


class LMType:
    """``build(input_shape, output_size, alphabet=..., context=, layers=, width=, heads=)``.

    The vocabulary is the ``alphabet`` (a string of characters, or ``"bytes"``);
    ``input_shape`` and ``output_size`` must agree with it when given as
    ``(context,)`` and the vocabulary size, and may be ``()`` and ``0`` otherwise.
    """

    name = "lm"
    kind = "sequence"  # text in, tokens out: tutelage.testing checks it as a language model
    description = "causal transformer language model over characters or bytes, with KV-cache sampling"

    def validate_options(self, options: dict[str, Any], where: str = "lm") -> None:
        for field in OPTIONS:
            value = options.get(field, 1)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 4096:
                raise SpecError(f"{where}: {field!r} must be an integer in [1, 4096], got {value!r}")
        if not isinstance(options.get("alphabet", BYTES), str) or not options.get("alphabet", BYTES):
            raise SpecError(f"{where}: 'alphabet' must be a non-empty string or 'bytes'")

    def build(self, input_shape: tuple[int, ...] = (), output_size: int = 0, *, seed: int = 0,
              alphabet: str = BYTES, context: int = 64, layers: int = 2, width: int = 64,
              heads: int = 4) -> LanguageModel:
        self.validate_options({"alphabet": alphabet, "context": context, "layers": layers, "width": width,
                               "heads": heads})
        tokenizer = Tokenizer(alphabet)
        if tuple(input_shape) not in ((), (context,)) or output_size not in (0, tokenizer.size):
            raise SpecError(f"lm: input_shape {tuple(input_shape)} / output_size {output_size} do not match "
                            f"context {context} / vocabulary {tokenizer.size}")
        return LanguageModel(tokenizer, context=context, layers=layers, width=width, heads=heads, seed=seed)

    def restore(self, config: dict[str, Any], tensors: dict) -> LanguageModel:
        return LanguageModel.restore(config, tensors)
