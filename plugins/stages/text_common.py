"""What the language stages share: the corpus, earlier LMs, saving an LM, loss curves and sample texts.

A language stage reads its corpus from ``corpus`` (``"pydoc"``, the built-in
Python documentation corpus, or a Parquet corpus written by
:func:`tutelage.data.text.write_corpus`, relative to the spec) and writes the
texts it sampled to ``text/<stage>.md`` in the run folder.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from tutelage.runs.schema import Field

LM_STAGES = ("lm-train", "text-kd", "text-critique", "text-improve")
PYDOC = "pydoc"
VALIDATION_CHARS = 20_000  # validation text read per loss (a fixed prefix of the split)
CORPUS = Field(str, PYDOC, help="'pydoc' (built in) or a Parquet text corpus written by tutelage.data.text")


def check_corpus(settings: dict[str, Any], check: Any) -> dict[str, Any]:
    """``corpus`` made absolute (relative to the spec) and checked to exist."""
    if settings["corpus"] != PYDOC:
        path = (check.spec_dir / settings["corpus"]).resolve()
        if not path.is_file():
            raise check.error("corpus", f"no such corpus file {str(path)!r} (or 'pydoc')")
        settings = {**settings, "corpus": str(path)}
    return settings


def check_lm(settings: dict[str, Any], check: Any, *keys: str) -> None:
    """Each of ``keys`` names an earlier language-model stage."""
    earlier = {s.name: s.type for s in check.earlier}
    for key in keys:
        if earlier.get(settings[key]) not in LM_STAGES:
            lms = sorted(name for name, kind in earlier.items() if kind in LM_STAGES)
            raise check.error(key, f"{settings[key]!r} is not an earlier language-model stage (earlier ones: {lms})")


def corpus(settings: dict[str, Any]) -> tuple[dict[str, str], Any]:
    """The splits (validation and test cut to :data:`VALIDATION_CHARS`) and a tokenizer over the whole corpus."""
    from tutelage.data.text import pydoc_splits, read_corpus
    from tutelage.nn.language import Tokenizer

    splits = pydoc_splits(seed=0) if settings["corpus"] == PYDOC else read_corpus(Path(settings["corpus"])).splits
    tokenizer = Tokenizer.for_text("".join(splits.values()))
    return {"train": splits["train"], **{s: splits[s][:VALIDATION_CHARS] for s in ("validation", "test")}}, tokenizer


def prompts(text: str, count: int, every: int = 7) -> list[str]:
    """``count`` three-word prompts taken every ``every`` words of ``text``."""
    words = text.split()
    return [" ".join(words[i:i + 3]) + " " for i in range(0, len(words) - 3, every)][:count]


def load_lm(context: Any, stage: str) -> Any:
    from tutelage import nn

    return nn.load(context.resolve(context.output(stage)["model"]))


def save_lm(context: Any, lm: Any, method: str, *, parent: str | None = None, teacher: str | None = None,
            dataset: str | None = None, data_depth: int | None = None) -> dict:
    """Save ``lm`` with its lineage into ``models/<stage>.safetensors`` (``dataset`` and ``data_depth``: where its
    labels came from and how synthetic they are); the result keys ``model``, ``model_id``."""
    from tutelage.methods.lineage import Derivation, save_derived

    path = context.path("models", f"{context.stage.name}.safetensors")
    parent_id = context.output(parent)["model_id"] if parent else None
    teacher_id = context.output(teacher)["model_id"] if teacher else None
    model_id = save_derived(lm, path, Derivation(method, parent=parent_id, teacher=teacher_id, dataset=dataset,
                                                            data_depth=data_depth), model_type="lm",
                            metadata={"run": context.run_id, "stage": context.stage.name})
    context.lineage.add_model(model_id, run_id=context.run_id, path=str(path.resolve()), model_type="lm",
                              method=method, parent=parent_id, teacher=teacher_id,
                              n_params=int(lm.gpt.parameter_count), size_bytes=path.stat().st_size)
    return {"model": context.relative(path), "model_id": model_id}


def log_curve(context: Any, history: list[dict], panel: str, series: str, key: str = "loss", offset: int = 0) -> None:
    """One curve point per recorded step of a ``fit`` history (every 25th step, and every validation loss)."""
    for row in history:
        if key in row and (key != "loss" or row["step"] % 25 == 0):
            context.log(kind="curve", panel=f"{context.stage.name}: {panel}", series=series, x=offset + row["step"],
                        y=float(row[key]), x_label="step")


def write_samples(context: Any, sections: dict[str, list[str]]) -> str:
    """The sampled texts, one Markdown section per heading, in ``text/<stage>.md``; returns its run path."""
    from tutelage import fileio

    path = context.path("text", f"{context.stage.name}.md")
    body = "".join(f"## {title}\n\n" + "".join(f"```\n{t}\n```\n\n" for t in texts) for title, texts in sections.items())
    fileio.write_text(path, f"# Samples of stage {context.stage.name}\n\n{body}")
    return context.relative(path)


def sample(lm: Any, texts: list[str], seed: int, max_tokens: int = 160) -> list[str]:
    """Continuations of ``texts`` (the same sampling seeds for every LM asked)."""
    from tutelage.methods.text_critic import sample_texts

    return sample_texts(lm, texts, max_tokens, seed=seed)
