"""The ``text-critique`` stage: an LM's samples critiqued by a text constitution, revised and fine-tuned on."""
from __future__ import annotations

from typing import Any

from tutelage.runs.schema import Field
from tutelage_plugins.stages.text_common import (CORPUS, check_corpus, check_lm, corpus, load_lm, prompts, sample,
                                                 save_lm, write_samples)


def constitution_path(settings: dict[str, Any], check: Any) -> dict[str, Any]:
    """``constitution`` ("text", the built-in one, or a TOML file relative to the spec) loaded once to check it."""
    from tutelage.errors import SpecError
    from tutelage.methods.text_critic import DEFAULT, load_constitution

    path = DEFAULT if settings["constitution"] == "text" else (check.spec_dir / settings["constitution"]).resolve()
    try:
        load_constitution(path)
    except SpecError as exc:
        raise check.error("constitution", str(exc)) from None
    return {**settings, "constitution": str(path)}


CONSTITUTION = Field(str, "text", help="'text' (built in) or a text-constitution TOML file")


class TextCritiqueStage:
    """Rounds of sample → critique → revise → fine-tune on the revisions mixed with constitution-keeping
    corpus paragraphs; the share of samples breaking a principle and the validation loss per round."""

    name = "text-critique"
    produces = ("model",)
    settings = {
        "corpus": CORPUS,
        "model": Field(str, help="an earlier language-model stage (left as it is; the result is a copy)"),
        "constitution": CONSTITUTION,
        "rounds": Field(int, 2, minimum=1),
        "samples": Field(int, 100, minimum=1, help="samples critiqued per round"),
        "max_tokens": Field(int, 160, minimum=1),
        "steps": Field(int, 300, minimum=1, help="fine-tuning steps per round"),
        "lr": Field(float, 1e-3, minimum=0.0),
        "mix": Field(float, 0.5, minimum=0.0, maximum=0.95, help="share of corpus text in the fine-tuning data"),
        "mix_max_chars": Field(int, None, minimum=1, help="mix in only corpus paragraphs at most this long "
                                                            "(whole texts of a sample's length; default: all)"),
        "resample": Field(int, 0, minimum=0, help="fresh continuations tried per broken sample before the rules "
                                                   "revise it (0: the rules only)"),
        "preference_steps": Field(int, 0, minimum=0, help="DPO steps a round on (revision, broken sample) pairs "
                                                           "after the fine-tuning (0: none)"),
        "beta": Field(float, 0.1, minimum=1e-6, help="DPO's beta"),
        "preference_lr": Field(float, 1e-4, minimum=0.0),
        "shown": Field(int, 3, minimum=0, help="sample texts before and after in the report"),
    }

    def validate(self, settings: dict[str, Any], check: Any) -> dict[str, Any]:
        check_lm(settings, check, "model")
        return constitution_path(check_corpus(settings, check), check)

    def run(self, context: Any, settings: dict[str, Any]) -> dict[str, Any]:
        from tutelage.methods.text_critic import TextRuleCritic, critique_revise_finetune, load_constitution
        from tutelage.methods.text_judge import clone

        splits, _ = corpus(settings)
        seed = context.stage_seed()
        start = load_lm(context, settings["model"])
        lm = clone(start)
        shown = prompts(splits["validation"], settings["shown"], every=11)
        before = sample(lm, shown, seed, settings["max_tokens"])
        critic = TextRuleCritic(load_constitution(settings["constitution"]))
        history = critique_revise_finetune(
            lm, prompts(splits["validation"], 10_000), splits["train"], splits["validation"], rounds=settings["rounds"],
            samples=settings["samples"], max_tokens=settings["max_tokens"], steps=settings["steps"], lr=settings["lr"],
            mix=settings["mix"], mix_max_chars=settings["mix_max_chars"], resample=settings["resample"], critic=critic,
            seed=seed,
            preference_steps=settings["preference_steps"], beta=settings["beta"], preference_lr=settings["preference_lr"])
        for row in history:
            for key, panel in (("violation_rate", "samples breaking a principle"),
                               ("validation_loss", "validation loss (nats/char)")):
                context.log(kind="curve", panel=f"{context.stage.name}: {panel}", series=key, x=row["round"],
                            y=row[key], x_label="round")
        after = sample(lm, shown, seed, settings["max_tokens"])
        first, last = history[0], history[-1]
        return {**save_lm(context, lm, "critique-revise", parent=settings["model"]),
                "violations_before": first["violation_rate"], "violations_after": last["violation_rate"],
                "reduction": first["violation_rate"] / max(last["violation_rate"], 1 / settings["samples"]),
                "validation_loss_before": first["validation_loss"], "validation_loss": last["validation_loss"],
                "by_principle_before": first["by_principle"], "by_principle_after": last["by_principle"],
                "revised_by": [row["revised_by"] for row in history[:-1]],
                "preference": [row.get("preference") for row in history[:-1]],
                "sample_before": before[0] if before else "", "sample_after": after[0] if after else "",
                "samples": write_samples(context, {"before": before, "after": after})}
