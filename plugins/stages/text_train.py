"""The ``lm-train`` stage: a character language model trained on a text corpus, with its loss curves and samples."""
from __future__ import annotations

import math
from typing import Any

from tutelage.runs.schema import Field
from tutelage_plugins.stages.text_common import CORPUS, check_corpus, corpus, log_curve, prompts, sample, save_lm, write_samples

ARCHITECTURE = {
    "context": Field(int, 64, minimum=2, maximum=4096),
    "layers": Field(int, 2, minimum=1, maximum=64),
    "width": Field(int, 64, minimum=1, maximum=4096),
    "heads": Field(int, 4, minimum=1, maximum=64),
}
TRAINING = {
    "steps": Field(int, 600, minimum=1),
    "batch_size": Field(int, 16, minimum=1),
    "lr": Field(float, 3e-3, minimum=0.0),
    "every": Field(int, 100, minimum=0, help="steps between validation losses on the curve (0: none)"),
    "samples": Field(int, 3, minimum=0, help="sample texts in the report"),
}


def check_architecture(settings: dict[str, Any], check: Any, key: str = "") -> None:
    arch = settings[key] if key else settings
    if arch["width"] % arch["heads"]:
        raise check.error(key or "width", f"width {arch['width']} is not divisible by heads {arch['heads']}")


def losses(lm: Any, splits: dict[str, str]) -> dict[str, float]:
    """Validation loss (nats/char) and perplexity."""
    loss = lm.loss(splits["validation"])
    return {"validation_loss": loss, "perplexity": math.exp(loss)}


class LMTrainStage:
    """Trains an ``lm`` from scratch on the corpus's training split."""

    name = "lm-train"
    produces = ("model",)
    settings = {"corpus": CORPUS, **ARCHITECTURE, **TRAINING}

    def validate(self, settings: dict[str, Any], check: Any) -> dict[str, Any]:
        check_architecture(settings, check)
        return check_corpus(settings, check)

    def run(self, context: Any, settings: dict[str, Any]) -> dict[str, Any]:
        from tutelage.nn.language import LanguageModel

        splits, tokenizer = corpus(settings)
        seed = context.stage_seed()
        lm = LanguageModel(tokenizer, seed=seed, **{k: settings[k] for k in ARCHITECTURE})
        history = lm.fit(splits["train"], steps=settings["steps"], batch_size=settings["batch_size"], lr=settings["lr"],
                         seed=seed, validation=splits["validation"], every=settings["every"])
        log_curve(context, history, "training loss (nats/char)", context.stage.name)
        log_curve(context, history, "validation loss (nats/char)", context.stage.name, key="validation_loss")
        texts = sample(lm, prompts(splits["validation"], settings["samples"]), seed)
        return {**save_lm(context, lm, "lm-train"), **losses(lm, splits), "parameters": int(lm.gpt.parameter_count),
                "sample": texts[0] if texts else "", "samples": write_samples(context, {"samples": texts})}
