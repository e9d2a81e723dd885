"""The ``text-collapse`` stage: generations of LMs each trained on the previous one's samples (replace) or on
everything so far (accumulate); validation perplexity and rare characters and words per generation."""
from __future__ import annotations

from typing import Any

from tutelage.runs.schema import Field
from tutelage_plugins.stages.text_common import CORPUS, check_corpus, corpus, write_samples


class TextCollapseStage:
    name = "text-collapse"
    produces = ()
    settings = {
        "corpus": CORPUS,
        "regimes": Field(list, ["replace", "accumulate"], items=str),
        "generations": Field(int, 5, minimum=1),
        "seeds": Field(int, 2, minimum=1),
        "chars": Field(int, 10_000, minimum=100, help="characters of real text, and of samples per generation"),
        "steps": Field(int, 150, minimum=1, help="training steps of each generation"),
        "temperature": Field(float, 1.0, minimum=0.01, help="each generation samples at this temperature"),
        "architecture": Field(dict, {"context": 64, "layers": 1, "width": 32, "heads": 2}),
    }

    def validate(self, settings: dict[str, Any], check: Any) -> dict[str, Any]:
        from tutelage.methods.text_collapse import REGIMES

        for regime in settings["regimes"]:
            if regime not in REGIMES:
                raise check.error("regimes", f"{regime!r} is not one of {list(REGIMES)}")
        return check_corpus(settings, check)

    def run(self, context: Any, settings: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        from tutelage import stats
        from tutelage.methods.preferences import write_parquet
        from tutelage.methods.text_collapse import text_collapse

        splits, tokenizer = corpus(settings)
        base = context.stage_seed()
        rows = [row for regime in settings["regimes"] for seed in range(settings["seeds"])
                for row in text_collapse(splits["train"], splits["validation"][:settings["chars"]], tokenizer,
                                         regime=regime, generations=settings["generations"], chars=settings["chars"],
                                         steps=settings["steps"], seed=base + seed, temperature=settings["temperature"],
                                         architecture=settings["architecture"])]
        write_parquet(rows, context.path("generations", f"{context.stage.name}.parquet"))
        out: dict[str, Any] = {}
        for regime in settings["regimes"]:
            for g in range(settings["generations"] + 1):
                at = [r for r in rows if r["regime"] == regime and r["generation"] == g]
                for key in ("perplexity", "rare_char_loss", "rare_char_share", "rare_chars_seen", "rare_word_share"):
                    context.log(kind="curve", panel=f"{context.stage.name}: {key.replace('_', ' ')}", series=regime,
                                x=g, y=float(np.mean([r[key] for r in at])), x_label="generation")
            first, last = ([r["perplexity"] for r in rows if r["regime"] == regime and r["generation"] == g]
                           for g in (0, settings["generations"]))
            out[f"{regime}_perplexity_first"] = float(np.mean(first))
            out[f"{regime}_perplexity_last"] = str(stats.mean_interval(last)) if len(last) > 1 else float(last[0])
        examples = {f"{r['regime']}, generation {r['generation']}": [r["example"]] for r in rows if r["seed"] == base}
        return {**out, "rows": len(rows), "results": context.relative(context.path("generations", f"{context.stage.name}.parquet")),
                "samples": write_samples(context, examples)}
