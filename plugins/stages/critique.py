"""The ``critique`` stage: a critic reviews every step of a policy against a constitution."""
from __future__ import annotations

from typing import Any

from tutelage.errors import UserError
from tutelage.runs.schema import Field
from tutelage_plugins.stages.refs import check_policy, is_teacher, load_policy


def constitution_of(host: Any, ref: str, where: str) -> Any:
    """Load a constitution named in a spec (a packaged name or a resolved path); errors name ``where``."""
    from tutelage.constitution import load_constitution, rule_kinds

    try:
        return load_constitution(ref, rule_kinds(host))
    except UserError as exc:
        raise type(exc)(f"{where}: {exc}") from None


CRITIC_SETTINGS = {
    "constitution": Field(str, help="a packaged constitution (driving, arm) or a .toml path relative to the spec"),
    "critic": Field(str, "rules", help="a registered critic: rules, learned, ..."),
    "critic_model": Field(str, None, help="the learned critic's .safetensors (relative to the spec)"),
    "passes": Field(int, 2, minimum=1, help="revision passes: re-critique the revision and revise again"),
    "edge_case_fraction": Field(float, None, minimum=0.0, maximum=1.0),
    "max_steps": Field(int, None, minimum=1),
}


def check_critic(settings: dict[str, Any], check: Any) -> dict[str, Any]:
    """Spec-time checks of the critic settings shared by ``critique`` and ``revise``; paths are
    resolved against the spec's folder."""
    ref = settings["constitution"]
    if ref.endswith(".toml"):
        ref = str((check.spec_dir / ref).resolve())
    constitution = constitution_of(check.host, ref, f"{check.where}.constitution")
    check.registry_get("critics", settings["critic"], "critic")
    model = settings["critic_model"]
    if settings["critic"] == "learned" and not model:
        raise check.error("critic_model", "the learned critic needs a trained critic model file")
    if constitution.world and constitution.world != check.world:
        raise check.error("constitution", f"{constitution.id} is written for {constitution.world!r}, not {check.world!r}")
    return {**settings, "constitution": ref, "critic_model": str((check.spec_dir / model).resolve()) if model else None}


def critic_for(context: Any, settings: dict[str, Any]) -> tuple[Any, Any]:
    """``(critic, constitution)`` of a stage's settings."""
    from tutelage_plugins.critics.build import build_critic

    constitution = constitution_of(context.host, settings["constitution"], f"stages.{context.stage.name}.constitution")
    critic = build_critic(context.host, settings["critic"], constitution, context.world, model=settings["critic_model"],
                          where=f"stages.{context.stage.name}.critic", passes=settings["passes"])
    return critic, constitution


class CritiqueStage:
    """Records under ``critiques/<stage>/`` (one Parquet file per episode; a resumed run keeps the
    episodes already written). Held-out episodes by default, the same for every critique stage of
    a run, so a student before and after revision meets the same scenarios."""

    name = "critique"
    produces = ("dataset",)
    settings = {
        "policy": Field(str, help="'expert', a teacher name or an earlier model stage"),
        "policy_options": Field(dict, {}, help="keyword options of a named teacher, e.g. { speed = 1.0 }"),
        "episodes": Field(int, 20, minimum=1),
        "split": Field(str, "held-out", choices=("held-out", "train")),
        "examples": Field(int, 3, minimum=0, help="critique sentences kept per principle"),
        "action_filter": Field(list, [], items=float,
                               help="low-pass the policy's action: one weight in [0, 1) or one per dimension"),
        "action_filter_fall": Field(list, [], items=float, help="the filter's weights while the action falls"),
        **CRITIC_SETTINGS,
    }

    def validate(self, settings: dict[str, Any], check: Any) -> dict[str, Any]:
        from tutelage.errors import SpecError
        from tutelage.rollouts.lowpass import filter_weights

        check_policy(check, settings["policy"], "policy")
        for key in ("action_filter", "action_filter_fall"):
            if settings[key]:
                try:
                    filter_weights(settings[key])
                except SpecError as exc:
                    raise check.error(key, str(exc).split(": ", 1)[1]) from None
        if settings["action_filter_fall"] and not settings["action_filter"]:
            raise check.error("action_filter_fall", "needs action_filter (the weights while the action rises)")
        return check_critic(settings, check)

    def run(self, context: Any, settings: dict[str, Any]) -> dict[str, Any]:
        from tutelage.methods.constitution import critique_episodes
        from tutelage.rollouts.plan import EpisodePlanner

        critic, constitution = critic_for(context, settings)
        ref = settings["policy"]
        policy = load_policy(context, ref, settings["policy_options"])
        policy_id = ref if is_teacher(context, ref) else context.output(ref)["model_id"]
        critiqued = policy_id
        if settings["action_filter"]:
            from tutelage.rollouts.lowpass import LowPassPolicy

            policy = LowPassPolicy(policy, settings["action_filter"], settings["action_filter_fall"] or None)
            critiqued = f"{policy_id} {policy.label}"
        planner = EpisodePlanner(context.sampler, edge_case_fraction=context.edge_case_fraction(settings["edge_case_fraction"]),
                                 split=settings["split"])
        plans = planner.plans(context.spec.seed, settings["episodes"])
        out = context.path("critiques", context.stage.name)
        records = critique_episodes(context.world, policy, critic, constitution, plans, out, policy_id=critiqued,
                                    max_steps=settings["max_steps"], quiet=context.quiet)
        summary = records.summary(examples=settings["examples"])
        dataset_id = f"{context.run_id}/{context.stage.name}"
        context.lineage.add_dataset(dataset_id, run_id=context.run_id, path=str(out.resolve()), world=context.world,
                                    policy=ref, parent_model=None if is_teacher(context, ref) else policy_id,
                                    episodes=summary["episodes"])
        for principle, entry in summary["principles"].items():
            context.log(kind="violations", policy=ref, principle=principle, per_unit=entry["per_unit"], unit=summary["unit"])
        return {"dataset": context.relative(out), "dataset_id": dataset_id, "policy": ref, "critic": settings["critic"],
                "constitution": constitution.id, "split": settings["split"], "violations": summary}
