"""The ``evaluate`` stage: teacher and students on the same held-out scenarios, with a side-by-side GIF."""
from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from typing import Any

import numpy as np

from tutelage.runs.schema import Field, check_table
from tutelage_plugins.stages.refs import check_policy, is_teacher, load_policy, teacher_name

SCENARIO_TYPE = {
    "parameter": Field(str, help="a numeric scenario parameter, e.g. 'friction'"),
    "edges": Field(list, items=float, help="ascending bin edges"),
    "labels": Field(list, items=str, help="one label per bin (len(edges) + 1)"),
}
TIMING_CALLS = 300


class EvaluateStage:
    """Success, collisions per km, return, parameters and batch-1 inference time of each policy."""

    name = "evaluate"
    settings = {
        "policies": Field(list, items=str, help="'expert', teacher names and earlier model stages"),
        "episodes": Field(int, 40, minimum=1),
        "workers": Field(int, 1, minimum=1, help="processes or Ray tasks playing episodes (same results for any count)"),
        "backend": Field(str, "process", choices=("process", "ray")),
        "edge_case_fraction": Field(float, None, minimum=0.0, maximum=1.0, help="share of named edge cases"),
        "held_out_episodes": Field(int, 0, minimum=0,
                                   help="episodes per policy on the world's held-out edge cases (never trained on)"),
        "max_steps": Field(int, None, minimum=1),
        "scenario_type": Field(dict, {}, help="bins of one scenario parameter: {parameter, edges, labels}"),
        "gif": Field(bool, True, help="record the last student beside the first teacher in an edge case"),
        "gif_edge_case": Field(str, "", help="default: the world's first edge case"),
        "gif_steps": Field(int, 400, minimum=1),
        "gif_every": Field(int, 4, minimum=1),
    }

    def validate(self, settings: dict[str, Any], check: Any) -> dict[str, Any]:
        if not settings["policies"]:
            raise check.error("policies", "name at least one policy to evaluate")
        for i, ref in enumerate(settings["policies"]):
            check_policy(check, ref, f"policies[{i}]")
        if settings["scenario_type"]:
            kind = check_table(settings["scenario_type"], SCENARIO_TYPE, f"{check.where}.scenario_type")
            if len(kind["labels"]) != len(kind["edges"]) + 1 or kind["edges"] != sorted(kind["edges"]):
                raise check.error("scenario_type", "needs ascending 'edges' and one more label than edges")
        return settings

    def run(self, context: Any, settings: dict[str, Any]) -> dict[str, Any]:
        from tutelage.methods.evaluate import evaluate
        from tutelage.rollouts.policy import resolve_policy

        seed = context.stage_seed()  # one seed for all: every policy meets the same scenarios
        fraction = context.edge_case_fraction(settings["edge_case_fraction"])
        loaded = {ref: load_policy(context, ref) for ref in settings["policies"]}
        first = first_observation(context.world)
        policies, records = {}, {}
        advance = context.progress(len(loaded), "policies evaluated")
        for ref, policy in loaded.items():
            name = teacher_name(context, ref) if is_teacher(context, ref) else str(context.resolve(context.output(ref)["model"]))
            spec = dataclasses.replace(resolve_policy(name, context.world, context.host), name=ref)  # bars: stage names
            result = evaluate(spec, context.world, episodes=settings["episodes"], seed=seed, edge_case_fraction=fraction,
                              max_steps=settings["max_steps"], sampler=context.sampler, quiet=context.quiet,
                              workers=settings["workers"], backend=settings["backend"])
            metrics = {k: v for k, v in result.as_dict().items() if k != "per_episode"}
            metrics.update(self._describe(context, ref, policy, first))
            if settings["scenario_type"]:
                metrics["by_scenario"] = by_scenario(context, result.episodes, settings, seed, fraction)
            if settings["held_out_episodes"]:
                held_out = evaluate(spec, context.world, episodes=settings["held_out_episodes"], seed=seed,
                                    edge_case_fraction=1.0, edge_cases=context.sampler.held_out_names,
                                    max_steps=settings["max_steps"], sampler=context.sampler, quiet=context.quiet,
                                    workers=settings["workers"], backend=settings["backend"])
                metrics["held_out"] = {**held_out.summary, "by_edge_case": held_out.by_edge_case}
            if metrics.get("model_id"):
                context.lineage.set_model_metrics(metrics["model_id"], _headline(metrics))
            context.log(kind="evaluation", policy=ref, **{k: v for k, v in _headline(metrics).items() if k != "by_edge_case"})
            policies[ref] = metrics
            records[ref] = result.episodes
            advance(1)
        out: dict[str, Any] = {"policies": policies, "episodes": settings["episodes"], "edge_case_fraction": fraction}
        if settings["gif"]:
            out.update(self._gif(context, settings, loaded, records, seed))
        return out

    def _describe(self, context: Any, ref: str, policy: Any, first: tuple[Any, dict]) -> dict[str, Any]:
        teacher = is_teacher(context, ref)
        described = {"role": "teacher" if teacher else "student", "inference_us": inference_us(policy, *first)}
        if not teacher:
            output = context.output(ref)
            described.update(model_id=output["model_id"], n_params=int(policy.n_params),
                             file_bytes=context.resolve(output["model"]).stat().st_size)
        return described

    def _gif(self, context: Any, settings: dict[str, Any], loaded: dict[str, Any], records: dict[str, list[dict]],
             seed: int) -> dict[str, Any]:
        from tutelage_plugins.stages.showcase import record_pair

        teachers = [ref for ref in loaded if is_teacher(context, ref)]
        students = [ref for ref in loaded if not is_teacher(context, ref)]
        if not teachers or not students:
            return {}
        names = context.sampler.edge_case_names
        edge_case = settings["gif_edge_case"] or (names[0] if names else "")
        teacher, student = teachers[0], students[-1]
        path = context.path("gifs", f"{context.stage.name}.gif")
        pair = {f"teacher: {teacher}": loaded[teacher], f"student: {student}": loaded[student]}
        caption = record_pair(context.world, pair, gif_episode(context, records[teacher], records[student], edge_case, seed),
                              path, steps=settings["gif_steps"], every=settings["gif_every"])
        return {"gif": context.relative(path), "gif_caption": caption}


def gif_episode(context: Any, teacher: list[dict], student: list[dict], edge_case: str, seed: int) -> Any:
    """The episode the GIF shows: one of the evaluation's where teacher and student differ in success (in
    ``edge_case`` when one is), else a fresh scenario in ``edge_case``."""
    from tutelage_plugins.stages.showcase import Episode

    differing = [(t, s) for t, s in zip(teacher, student) if bool(t["success"]) != bool(s["success"])]
    differing.sort(key=lambda pair: pair[0].get("edge_case") != edge_case)
    if differing:
        record = differing[0][0]
        return Episode(dict(record["scenario"]), int(record["env_seed"]), int(record["policy_seed"]))
    return Episode(context.sampler.sample(np.random.default_rng(seed), edge_case=edge_case), seed, seed)


def first_observation(world: str) -> tuple[Any, dict]:
    """``(observation, info)`` of a fresh ``world`` reset with seed 0."""
    import gymnasium

    env = gymnasium.make(world)
    try:
        return env.reset(seed=0)
    finally:
        env.close()


def inference_us(policy: Any, observation: Any, info: dict) -> float:
    """Median batch-1 time of one action (µs) on a real observation (see :func:`first_observation`)."""
    from tutelage.rollouts.policy import as_policy

    act = as_policy(policy)
    times = []
    for _ in range(TIMING_CALLS):
        started = time.perf_counter()
        act(observation, info)
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1e6)


def by_scenario(context: Any, episodes: list[dict[str, Any]], settings: dict[str, Any], seed: int, fraction: float) -> dict[str, Any]:
    """Success rate per bin of one scenario parameter (the evaluation's own held-out plan)."""
    kind = settings["scenario_type"]
    groups: dict[str, list[bool]] = defaultdict(list)
    for record in episodes:
        value = record["scenario"][kind["parameter"]]
        groups[kind["labels"][int(np.searchsorted(kind["edges"], value, side="right"))]].append(bool(record["success"]))
    return {label: {"episodes": len(groups[label]), "success_rate": float(np.mean(groups[label]))}
            for label in kind["labels"] if groups[label]}


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    names = [m["name"] for m in metrics.get("metrics", [])]
    keys = ("success_rate", "success_interval", "mean_return", "episodes", "inference_us", "by_edge_case", *names)
    return {k: metrics[k] for k in keys if k in metrics}
