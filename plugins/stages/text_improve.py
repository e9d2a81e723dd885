"""The ``text-improve`` stage: text judges label pairs of an LM's samples, a Bradley–Terry reward model learns
the labels, best-of-n distillation improves the LM, and an oracle no judge reads scores it against the start."""
from __future__ import annotations

from typing import Any

from tutelage.runs.schema import Field
from tutelage_plugins.stages.text_common import (CORPUS, check_corpus, check_lm, corpus, load_lm, prompts, save_lm,
                                                 write_samples)
from tutelage_plugins.stages.text_critique import CONSTITUTION, constitution_path


class TextImproveStage:
    """Judges: the ``teacher``'s likelihood and the constitution (both orders each); the learned judge is the
    reward model. Oracle: rule compliance, then likelihood under ``reference`` (an LM no judge reads)."""

    name = "text-improve"
    produces = ("model",)
    settings = {
        "corpus": CORPUS,
        "policy": Field(str, help="an earlier language-model stage: the starting LM"),
        "teacher": Field(str, help="an earlier language-model stage: the likelihood judge"),
        "reference": Field(str, help="an earlier language-model stage read only by the oracle"),
        "constitution": CONSTITUTION,
        "pairs": Field(int, 100, minimum=2, help="preference pairs (two samples of one training prompt)"),
        "n": Field(int, 8, minimum=1, help="samples per prompt in best-of-n"),
        "rounds": Field(int, 2, minimum=1),
        "prompts": Field(int, 60, minimum=1, help="training prompts of the improvement, shared among the rounds"),
        "steps": Field(int, 200, minimum=1, help="fine-tuning steps per round"),
        "epochs": Field(int, 100, minimum=1, help="reward-model epochs"),
        "episodes": Field(int, 100, minimum=1, help="held-out prompts of the win rate"),
        "max_tokens": Field(int, 160, minimum=1),
    }

    def validate(self, settings: dict[str, Any], check: Any) -> dict[str, Any]:
        check_lm(settings, check, "policy", "teacher", "reference")
        if settings["reference"] in (settings["policy"], settings["teacher"]):
            raise check.error("reference", "the oracle's reference LM must be neither the policy nor the judge's teacher")
        return constitution_path(check_corpus(settings, check), check)

    def run(self, context: Any, settings: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        from tutelage.methods.preferences import write_parquet
        from tutelage.methods.reward import save_reward_model
        from tutelage.methods.text_critic import load_constitution
        from tutelage.methods.text_judge import (FEATURES, ConstitutionJudge, LikelihoodJudge, Oracle, clone, improve_text,
                                                 judge_text_pairs, preference_pairs, train_text_reward, win_rate)

        splits, _ = corpus(settings)
        seed = context.stage_seed()
        principles = load_constitution(settings["constitution"])
        start, teacher = load_lm(context, settings["policy"]), load_lm(context, settings["teacher"])
        pool = prompts(splits["train"], 10**9, every=101)
        chosen = [pool[i] for i in np.random.default_rng(seed).choice(len(pool), settings["pairs"] + settings["prompts"],
                                                                         replace=False)]
        pairs = preference_pairs(start, chosen[:settings["pairs"]], max_tokens=settings["max_tokens"], seed=seed)
        rows = judge_text_pairs([LikelihoodJudge(teacher), ConstitutionJudge(principles)], chosen[:settings["pairs"]], pairs)
        write_parquet(rows, context.path("preferences", context.stage.name, "preferences.parquet"))
        mlp = context.host.registry("model_types").get("mlp").build((len(FEATURES),), 1, hidden=(32, 32), seed=seed)
        reward, report = train_text_reward(mlp, rows, teacher, epochs=settings["epochs"], seed=seed)
        save_reward_model(reward, context.path("models", f"{context.stage.name}-reward.safetensors"))
        lm = clone(start)
        history = improve_text(lm, chosen[settings["pairs"]:], reward, teacher, splits["train"], principles,
                               n=settings["n"], rounds=settings["rounds"], max_tokens=settings["max_tokens"],
                               steps=settings["steps"], seed=seed)
        for row in history:
            context.log(kind="curve", panel=f"{context.stage.name}: reward of the samples", series="best kept",
                        x=row["round"], y=row["reward_kept"], x_label="round")
            context.log(kind="curve", panel=f"{context.stage.name}: reward of the samples", series="all",
                        x=row["round"], y=row["reward_all"], x_label="round")
        oracle = Oracle(load_lm(context, settings["reference"]), principles)
        wins = win_rate(lm, start, prompts(splits["validation"], settings["episodes"]), oracle,
                        max_tokens=settings["max_tokens"], seed=seed)
        interval = wins["win_rate"]
        return {**save_lm(context, lm, "best-of-n", parent=settings["policy"], teacher=settings["teacher"]),
                "method": "best_of_n", "win_rate": interval.estimate,
                "win_interval": {"low": interval.low, "high": interval.high, "n": interval.n},
                "wins": wins["wins"], "losses": wins["losses"], "ties": wins["ties"],
                "violations_before": wins["start_violation_rate"], "violations_after": wins["violation_rate"],
                "reward_labels": report["labels"], "reward_val_accuracy": report.get("val_accuracy"),
                "preferences": context.relative(context.path("preferences", context.stage.name, "preferences.parquet")),
                "sample_before": wins["examples"][0][0], "sample_after": wins["examples"][0][1],
                "samples": write_samples(context, {"start": [b for b, _ in wins["examples"]],
                                                   "improved": [a for _, a in wins["examples"]]})}
