"""The ``revise`` stage: fine-tune a student on a critic's revisions of its own driving, for K rounds."""
from __future__ import annotations

from typing import Any

import numpy as np

from tutelage.runs.schema import Field
from tutelage_plugins.stages.critique import CRITIC_SETTINGS, check_critic, critic_for


class ReviseStage:
    """``models/<stage>.safetensors``: the student fine-tuned on revised actions (parent = the student,
    the constitution's id and hash in its lineage); records under ``critiques/<stage>/round-k``
    (a resumed run keeps the episodes already critiqued). With ``gif``, the student before and
    after revision drive the same scenario side by side."""

    name = "revise"
    produces = ("model",)
    settings = {
        "model": Field(str, help="the earlier model stage to fine-tune (the student)"),
        "data": Field(str, None, help="an earlier critique stage of the same model on training episodes, used in round 0"),
        "rounds": Field(int, 3, minimum=1, help="critique → fine-tune rounds (the critic reviews each new student)"),
        "episodes_per_round": Field(int, 8, minimum=1),
        "epochs": Field(int, 20, minimum=1),
        "batch_size": Field(int, 64, minimum=1),
        "lr": Field(float, 5e-4, minimum=0.0),
        "violation_weight": Field(int, 2, minimum=1, help="how many times a revised step counts"),
        "include_unfixed": Field(bool, False, help="also train on revisions that did not fix the violation"),
        "targets": Field(str, "anchor", choices=("anchor", "own"),
                         help="anchor: the critic's revisions of the student-as-it-came's actions; own: of its current ones"),
        "standardize": Field(bool, False, help="fine-tune on standardized inputs, folded into the student (it still reads raw ones)"),
        "gif": Field(bool, True),
        "gif_edge_case": Field(str, "", help="default: the world's first edge case"),
        "gif_steps": Field(int, 400, minimum=1),
        "gif_every": Field(int, 4, minimum=1),
        **CRITIC_SETTINGS,
    }

    def validate(self, settings: dict[str, Any], check: Any) -> dict[str, Any]:
        check.earlier_output(settings["model"], "model", "model")
        if settings["data"] is not None:
            data = check.earlier_output(settings["data"], "data", "dataset")
            if data.settings.get("split") != "train":
                raise check.error("data", f"stage {settings['data']!r} critiques held-out episodes; fine-tune on 'train' ones")
            if settings["targets"] == "anchor":
                raise check.error("data", "an earlier critique has no anchor columns; use it with targets = 'own'")
        return check_critic(settings, check)

    def run(self, context: Any, settings: dict[str, Any]) -> dict[str, Any]:
        from tutelage import nn
        from tutelage.methods.collapse_guard import guard_policy
        from tutelage.methods.constitution import Records, constitutional_training
        from tutelage.methods.lineage import save_derived

        critic, constitution = critic_for(context, settings)
        source = context.output(settings["model"])
        student = nn.load(context.resolve(source["model"]))
        verdict, depth = guard_policy(context.spec.collapse_guard, student, f"revised rollouts of {settings['model']}")
        start = Records.read(context.resolve(context.output(settings["data"])["dataset"]), constitution) if settings["data"] else None

        def on_round(round_num: int, _student: Any, record: dict[str, Any]) -> None:
            context.log(kind="curve", panel=f"{context.stage.name}: violations per {record['unit']} while training",
                        series="severity-weighted", x=round_num, y=float(record["weighted_per_unit"]), x_label="round")

        student, derivation = constitutional_training(
            context.world, student, critic, constitution, context.path("critiques", context.stage.name, "rounds"),
            rounds=settings["rounds"], episodes_per_round=settings["episodes_per_round"], seed=context.stage_seed(),
            edge_case_fraction=context.edge_case_fraction(settings["edge_case_fraction"]), sampler=context.sampler,
            start=start, max_steps=settings["max_steps"], epochs=settings["epochs"], batch_size=settings["batch_size"],
            lr=settings["lr"], violation_weight=settings["violation_weight"], include_unfixed=settings["include_unfixed"],
            targets=settings["targets"], standardize=settings["standardize"], quiet=context.quiet,
            callbacks=context.host.callbacks(), on_round=on_round,
        )
        derivation.guarded(verdict, depth)
        path = context.path("models", f"{context.stage.name}.safetensors")
        model_type = nn.load(context.resolve(source["model"])).info.get("model_type", "mlp")
        model_id = save_derived(student, path, derivation, model_type=model_type,
                                metadata={"run": context.run_id, "stage": context.stage.name, "world": context.world,
                                          **constitution.lineage()})
        context.lineage.add_model(model_id, run_id=context.run_id, path=str(path.resolve()), model_type=model_type,
                                  method="constitution", parent=derivation.parent, dataset=derivation.dataset,
                                  teacher=derivation.teacher, n_params=int(student.n_params), size_bytes=path.stat().st_size,
                                  data_depth=depth, collapse_guard=derivation.collapse_guard)
        out = {"model": context.relative(path), "model_id": model_id, "parent": derivation.parent,
               "constitution": constitution.id, "critic": settings["critic"], "rounds": derivation.history}
        if settings["gif"]:
            out.update(self._gif(context, settings, source, path))
        return out

    def _gif(self, context: Any, settings: dict[str, Any], source: dict[str, Any], path: Any) -> dict[str, Any]:
        from tutelage import nn
        from tutelage_plugins.stages.showcase import record_pair

        names = context.sampler.edge_case_names
        edge_case = settings["gif_edge_case"] or (names[0] if names else "")
        seed = context.stage_seed(1)
        scenario = context.sampler.sample(np.random.default_rng(seed), edge_case=edge_case or None)
        gif = context.path("gifs", f"{context.stage.name}.gif")
        pair = {f"before: {settings['model']}": nn.load(context.resolve(source["model"])),
                f"after: {context.stage.name}": nn.load(path)}
        caption = record_pair(context.world, pair, scenario, seed, gif, steps=settings["gif_steps"], every=settings["gif_every"])
        return {"gif": context.relative(gif), "gif_caption": caption}
