"""The ``judge`` stage: paired rollouts of a policy, judged in both orders, written as a preference dataset.

Pairs are two samples of a Gaussian version of ``policy`` on the same scenario
(or ``policy`` against ``second``, or against a perturbed copy). The world's
oracle judges the same pairs into ``oracle.parquet`` beside the dataset, for
scoring the judge (agreement, calibration) and never for training. A killed
stage resumes from its judged chunks with identical data.
"""
from __future__ import annotations

import inspect
import time
from typing import Any

from tutelage.errors import SpecError, UnknownNameError
from tutelage.runs.schema import Field
from tutelage_plugins.stages.refs import check_policy, load_policy

ORACLE_FILE = "oracle.parquet"


def judge_factory_options(context_or_check: Any, name: str, options: dict[str, Any], reward_stage: str = "") -> dict[str, Any]:
    """A judge's options, with ``world=`` filled in for judges that take it and ``path=`` for the model judge."""
    factory = context_or_check.host.registry("judges").get(name)
    accepted = inspect.signature(factory).parameters
    out = dict(options)
    if "world" in accepted and "world" not in out and "score" not in out and "expert" not in out:
        out["world"] = context_or_check.world
    if reward_stage:
        out["path"] = str(context_or_check.resolve(context_or_check.output(reward_stage)["model"]))
    return out


def oracle_judge(context: Any) -> Any:
    """The world's oracle as a judge (through the judges registry: a plugin world registers its own)."""
    return context.host.registry("judges").get("oracle")(world=context.world)


def oracle_of(context: Any) -> Any:
    """The world's oracle return as a function of a trajectory."""
    judge = oracle_judge(context)
    return lambda trajectory: judge.score(None, trajectory)


class JudgeStage:
    """Make a preference dataset; report the judge's agreement with the oracle, flips, abstentions, speed."""

    name = "judge"
    produces = ("dataset",)
    settings = {
        "policy": Field(str, help="an earlier model stage (or a teacher) whose outputs are compared"),
        "second": Field(str, "", help="'' two samples of the policy; 'perturbed'; or another policy"),
        "sigma": Field(float, 0.1, minimum=0.0, help="action noise of the Gaussian version of a model policy"),
        "perturb": Field(float, 0.1, minimum=0.0, help="θ noise of the perturbed copy (std(θ) units)"),
        "pairs": Field(int, 200, minimum=1, help="label budget: pairs to judge"),
        "judge": Field(str, "expert", help="a registered judge: oracle, expert, model or a plugin's"),
        "judge_options": Field(dict, {}, help="options of the judge factory"),
        "reward_model": Field(str, "", help="for the model judge: an earlier reward stage"),
        "max_steps": Field(int, None, minimum=1),
        "chunk": Field(int, 32, minimum=1, help="pairs per part file (the unit of resuming)"),
        "split": Field(str, "train", choices=("train", "held-out")),
    }

    def validate(self, settings: dict[str, Any], check: Any) -> dict[str, Any]:
        check_policy(check, settings["policy"], "policy")
        if settings["second"] not in ("", "perturbed"):
            check_policy(check, settings["second"], "second")
        judges = check.host.registry("judges")
        if settings["judge"] not in judges:
            raise UnknownNameError("judge", settings["judge"], judges, f"{check.where}.judge")
        if settings["reward_model"] and settings["reward_model"] not in [s.name for s in check.earlier]:
            raise check.error("reward_model", "name an earlier reward stage")
        return settings

    def run(self, context: Any, settings: dict[str, Any]) -> dict[str, Any]:
        from tutelage.judging import JudgedPair, agreement, calibration, judge_pairs, judge_stats
        from tutelage.methods.preferences import collect_pairs, judge_dataset, read_rows, verdict_row, write_parquet
        from tutelage.protocols import Verdict
        from tutelage.rollouts.plan import EpisodePlanner
        from tutelage.stats import wilson

        seed = context.stage_seed()
        first, second = self.policies(context, settings, seed)
        plans = EpisodePlanner(context.sampler, split=settings["split"]).plans(seed, settings["pairs"])
        pairs = collect_pairs(context.world, first, second, plans, labels=(settings["policy"], settings["second"] or settings["policy"]),
                              max_steps=settings["max_steps"], prefix=f"{context.stage.name}-")
        name = settings["judge"]
        judge = context.host.registry("judges").get(name)(**judge_factory_options(context, name, settings["judge_options"],
                                                                                  settings["reward_model"]))
        folder = context.path("datasets", context.stage.name, "x").parent
        advance = context.progress(len(pairs), "pairs judged")
        started = time.perf_counter()
        judge_dataset(judge, pairs, folder, judge_name=name, chunk=settings["chunk"], on_chunk=advance)
        seconds = time.perf_counter() - started
        rows = read_rows(folder / "preferences.parquet", "preference dataset")
        oracle = [verdict_row(p, j, "oracle") for p, j in
                  zip(pairs, judge_pairs(oracle_judge(context), [p.context for p in pairs], [(p.first, p.second) for p in pairs]))]
        write_parquet(oracle, folder / ORACLE_FILE)
        verdicts = [Verdict(r["choice"], r["p_first"]) for r in rows]
        agree, compared = agreement(verdicts, [Verdict(r["choice"], r["p_first"]) for r in oracle])
        strict = [(r["p_first"], o["choice"] == "first") for r, o in zip(rows, oracle)
                  if r["p_first"] is not None and o["choice"] in ("first", "second")]
        stats = judge_stats([JudgedPair(v, Verdict(r["forward_choice"], r["forward_p_first"]),
                                        Verdict(r["backward_choice"], r["backward_p_first"])) for v, r in zip(verdicts, rows)])
        out = {"dataset": context.relative(folder), "dataset_id": f"{context.run_id}/{context.stage.name}", "judge": name,
               "pairs": len(rows), **stats.as_dict(), "agreement": agree / compared if compared else float("nan"),
               "agreement_interval": wilson(agree, compared).as_dict() if compared else None,
               "pairs_per_second": len(rows) / max(seconds, 1e-9),
               "calibration": calibration([p for p, _ in strict], [t for _, t in strict]) if strict else []}
        context.log(kind="judge", judge=name, agreement=out["agreement"], flip_rate=out["flip_rate"],
                    abstain_rate=out["abstain_rate"])
        return out

    def policies(self, context: Any, settings: dict[str, Any], seed: int) -> tuple[Any, Any]:
        from tutelage.methods.preferences import GaussianPolicy, perturbed
        from tutelage.rollouts.policy import is_model

        policy = load_policy(context, settings["policy"])
        model = is_model(policy)
        first = GaussianPolicy(policy, settings["sigma"]) if model and settings["sigma"] > 0 else policy
        if settings["second"] == "":
            return first, first
        if settings["second"] == "perturbed":
            if not model:
                raise SpecError(f"stages.{context.stage.name}.second: only a model policy can be perturbed")
            return first, perturbed(policy, settings["perturb"], seed)
        return first, load_policy(context, settings["second"])
