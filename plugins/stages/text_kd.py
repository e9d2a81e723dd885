"""The ``text-kd`` stage: a student LM distilled from a teacher LM by token-level KD, against a corpus-only control."""
from __future__ import annotations

from typing import Any

from tutelage.runs.schema import Field
from tutelage_plugins.stages.text_common import (CORPUS, check_corpus, check_lm, corpus, load_lm, log_curve, prompts,
                                                 sample, save_lm, write_samples)
from tutelage_plugins.stages.text_train import ARCHITECTURE, TRAINING, check_architecture, losses


class TextKDStage:
    """The student trains ``steps`` on the corpus with the teacher's softened next-token distribution mixed in;
    a control of the same architecture, seed and steps trains on the corpus alone. Reports both validation
    losses and the share of the teacher–control gap the student closes."""

    name = "text-kd"
    produces = ("model",)
    settings = {
        "corpus": CORPUS,
        "teacher": Field(str, help="an earlier language-model stage"),
        "student": Field(dict, {"layers": 1, "width": 32, "heads": 2}, help="context, layers, width, heads"),
        "temperature": Field(float, 1.0, minimum=1e-3),
        "alpha": Field(float, 0.9, minimum=0.0, maximum=1.0, help="weight of the teacher's soft targets"),
        "top_k": Field(int, 0, minimum=0, help="keep only the teacher's k most likely tokens (0: all)"),
        "offline_top_k": Field(int, 0, minimum=0, help="store the teacher's top-k logits once, in "
                               "data/<stage>-topk.parquet, and distil from them (0: the teacher runs online)"),
        **{k: v for k, v in TRAINING.items() if k != "every"},
        "every": Field(int, 100, minimum=0),
    }

    def validate(self, settings: dict[str, Any], check: Any) -> dict[str, Any]:
        check_lm(settings, check, "teacher")
        unknown = set(settings["student"]) - set(ARCHITECTURE)
        if unknown:
            raise check.error("student", f"unknown option(s) {sorted(unknown)}; expected {sorted(ARCHITECTURE)}")
        student = {k: settings["student"].get(k, f.default) for k, f in ARCHITECTURE.items()}
        for key, value in student.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise check.error("student", f"{key!r} must be a positive integer, got {value!r}")
        check_architecture({"student": student}, check, "student")
        return check_corpus({**settings, "student": student}, check)

    def run(self, context: Any, settings: dict[str, Any]) -> dict[str, Any]:
        from tutelage.nn.language import LanguageModel

        teacher = load_lm(context, settings["teacher"])
        splits, _ = corpus(settings)
        seed = context.stage_seed()
        labels = offline_targets(context, settings, teacher, splits["train"]) if settings["offline_top_k"] else {}
        train = dict(steps=settings["steps"], batch_size=settings["batch_size"], lr=settings["lr"], seed=seed,
                     validation=splits["validation"], every=settings["every"])
        arms = {}
        distil = dict(teacher=labels.get("targets", teacher), temperature=settings["temperature"],
                      alpha=settings["alpha"], top_k=settings["top_k"])
        for arm, kd in (("control", {}), ("student", distil)):
            arms[arm] = LanguageModel(teacher.tokenizer, seed=seed, **settings["student"])
            history = arms[arm].fit(splits["train"], **train, **kd)
            log_curve(context, history, "validation loss (nats/char)", arm, key="validation_loss")
        loss = {arm: losses(lm, splits) for arm, lm in arms.items()}
        teacher_loss = teacher.loss(splits["validation"])
        gap = loss["control"]["validation_loss"] - teacher_loss
        closed = (loss["control"]["validation_loss"] - loss["student"]["validation_loss"]) / gap if gap > 0 else None
        shown = prompts(splits["validation"], settings["samples"])
        texts = {"teacher": sample(teacher, shown, seed), "student (token KD)": sample(arms["student"], shown, seed),
                 "control (corpus only)": sample(arms["control"], shown, seed)}
        method = "token-kd-offline-top-k" if labels else "token-kd"
        return {**save_lm(context, arms["student"], method, teacher=settings["teacher"], dataset=labels.get("dataset"),
                          data_depth=labels.get("data_depth")),
                **loss["student"], "control_validation_loss": loss["control"]["validation_loss"],
                "teacher_validation_loss": teacher_loss, "gap_closed": closed,
                "sample": texts["student (token KD)"][0] if shown else "",
                "samples": write_samples(context, texts)}


def offline_targets(context: Any, settings: dict[str, Any], teacher: Any, text: str) -> dict[str, Any]:
    """The teacher's top-k logits over ``text``, written once to the run folder and read back (checked to come
    from that teacher); their path, and the labels' synthetic depth (model-labelled data, for the lineage)."""
    from tutelage.methods.collapse_guard import soft_label_provenance
    from tutelage.methods.text_topk import read_topk_targets, write_topk_targets

    teacher_id = context.output(settings["teacher"])["model_id"]
    path = context.path("data", f"{context.stage.name}-topk.parquet")
    write_topk_targets(teacher, text, path, k=settings["offline_top_k"], teacher_id=teacher_id,
                       corpus={"corpus": settings["corpus"], "split": "train"})
    targets = read_topk_targets(path, teacher_id=teacher_id)
    return {"targets": targets, "dataset": context.relative(path),
            "data_depth": soft_label_provenance(targets.info)["synthetic_depth"]}
