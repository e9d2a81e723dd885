"""The ``generate`` stage: a synthetic dataset of a world played by a teacher or an earlier model."""
from __future__ import annotations

from typing import Any

from tutelage.runs.schema import Field
from tutelage_plugins.stages.refs import EXPERT, check_policy, is_teacher


def check_not_held_out(check: Any, path: Any) -> None:
    """A training stage may not replay scenarios of the world's held-out edge cases."""
    from tutelage.sim.catalogue import load_catalogue

    sampler = check.sampler()
    entries = load_catalogue(path, world=check.world).entries
    held = sorted({e.get("edge_case", "") for e in entries if sampler is not None and sampler.is_held_out(e.get("edge_case"))})
    if held:
        raise check.error("scenarios", f"{path} replays held-out edge cases {held}: they are for evaluation only")


class GenerateStage:
    """Parquet shards under ``datasets/<stage>/``; a resumed run continues after the last finished shard."""

    name = "generate"
    produces = ("dataset",)
    settings = {
        "policy": Field(str, EXPERT, help="'expert', 'random', a teacher name or an earlier model stage"),
        "episodes": Field(int, 20, minimum=1),
        "episodes_per_shard": Field(int, 5, minimum=1),
        "workers": Field(int, 1, minimum=1),
        "backend": Field(str, "process", choices=("process", "ray")),
        "edge_case_fraction": Field(float, None, minimum=0.0, maximum=1.0, help="default: the spec's [scenarios]"),
        "max_steps": Field(int, None, minimum=1),
        "scenarios": Field(str, None, help="a failure catalogue to replay, relative to the spec file"),
        "policy_options": Field(dict, {}, help="keyword options of the teacher, e.g. { sigma = 0.1 }"),
    }

    def validate(self, settings: dict[str, Any], check: Any) -> dict[str, Any]:
        if settings["policy"] != "random":
            check_policy(check, settings["policy"], "policy")
        if settings["scenarios"] is not None:
            catalogue = (check.spec_dir / settings["scenarios"]).resolve()
            if not catalogue.is_file():
                raise check.error("scenarios", f"scenario catalogue {str(catalogue)!r} not found")
            check_not_held_out(check, catalogue)
            settings = {**settings, "scenarios": str(catalogue)}
        return settings

    def run(self, context: Any, settings: dict[str, Any]) -> dict[str, Any]:
        from tutelage.rollouts.generate import generate

        policy = settings["policy"]
        if policy != "random" and not is_teacher(context, policy):
            policy = str(context.resolve(context.output(policy)["model"]))
        out = context.path("datasets", context.stage.name)
        made = generate(
            context.world, policy, settings["episodes"], out, host=context.host, workers=settings["workers"],
            backend=settings["backend"], policy_options=settings["policy_options"],
            seed=context.stage_seed(), edge_case_fraction=context.edge_case_fraction(settings["edge_case_fraction"]),
            episodes_per_shard=settings["episodes_per_shard"], max_steps=settings["max_steps"],
            scenarios=settings["scenarios"], progress=not context.quiet, sampler=context.sampler,
        )
        info = made.info
        dataset_id = str(info.get("id") or f"{context.run_id}/{context.stage.name}")
        stats = info.get("stats") or {}
        context.lineage.add_dataset(
            dataset_id, run_id=context.run_id, path=str(out.resolve()), world=context.world, policy=settings["policy"],
            parent_model=None if is_teacher(context, settings["policy"]) else context.output(settings["policy"]).get("model_id"),
            episodes=made.episodes, synthetic_share=float(made.synthetic_share),
            synthetic_depth=info.get("synthetic_depth"), synthetic_depth_rows=info.get("synthetic_depth_rows"),
        )
        return {
            "dataset": context.relative(out), "dataset_id": dataset_id, "episodes": made.episodes,
            "frames": made.frames, "shards": made.shards, "synthetic_share": float(made.synthetic_share),
            "policy_success_rate": stats.get("success_rate"),
        }
