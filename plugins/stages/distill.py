"""The ``distill`` stage: a student learns from a teacher by behavior cloning, DAgger or knowledge distillation."""
from __future__ import annotations

import inspect
from typing import Any

from tutelage.errors import NumericalError, UnknownNameError
from tutelage.runs.schema import Field, check_table
from tutelage_plugins.stages.refs import EXPERT, check_policy, is_teacher, load_policy, teacher_name

METHODS = ("bc", "dagger", "kd")
STUDENT = {
    "model_type": Field(str, "mlp", help="a registered model type"),
    "options": Field(dict, {}, help="options for the model type's build(), e.g. hidden = [64, 64]"),
}


class DistillStage:
    """Train a fresh student (``models/<stage>.safetensors``) from ``teacher`` by ``method``.

    ``bc`` and ``kd`` learn from an earlier dataset stage (``data``); ``dagger``
    lets the student drive and the teacher label what it visits. ``kd`` needs a
    model teacher with logits (an earlier model stage) and a world with discrete actions.
    """

    name = "distill"
    produces = ("model",)
    settings = {
        "teacher": Field(str, EXPERT, help="'expert', a teacher name or an earlier model stage"),
        "teacher_options": Field(dict, {}, help="keyword options of a named teacher, e.g. { sigma = 0.1 }"),
        "method": Field(str, "bc", choices=METHODS),
        "student": Field(dict, {}),
        "data": Field(str, None, help="earlier dataset stage (bc, kd)"),
        "epochs": Field(int, 30, minimum=1),
        "batch_size": Field(int, 64, minimum=1),
        "lr": Field(float, 1e-3, minimum=0.0),
        "standardize": Field(bool, False, help="bc, dagger: train on standardized inputs, folded into the student's "
                                                "first layer (it still reads raw ones)"),
        "rounds": Field(int, 4, minimum=1, help="DAgger rounds"),
        "episodes_per_round": Field(int, 6, minimum=1),
        "rampdown": Field(int, None, minimum=1, help="DAgger: rounds over which β falls from 1 to 0 (default: half the rounds)"),
        "label_every": Field(int, 1, minimum=1, help="DAgger: keep every k-th visited state (e.g. each camera frame)"),
        "labels_per_episode": Field(int, None, minimum=1,
                                    help="DAgger: keep at most this many labelled states of an episode, evenly spaced"),
        "keep": Field(str, "last", choices=("last", "best"),
                      help="DAgger: return the last student or the one that did best driving alone"),
        "workers": Field(int, 1, minimum=1, help="DAgger: processes or Ray tasks playing each round (same results)"),
        "backend": Field(str, "process", choices=("process", "ray")),
        "edge_case_fraction": Field(float, None, minimum=0.0, maximum=1.0),
        "max_steps": Field(int, None, minimum=1),
        "temperature": Field(float, 4.0, minimum=1e-6, help="kd"),
        "alpha": Field(float, 0.9, minimum=0.0, maximum=1.0, help="kd: weight of the soft-target loss"),
    }

    def validate(self, settings: dict[str, Any], check: Any) -> dict[str, Any]:
        check_policy(check, settings["teacher"], "teacher")
        student = check_table(settings["student"], STUDENT, f"{check.where}.student")
        model_type = check.registry_get("model_types", student["model_type"], "student.model_type")
        check_build_options(model_type, student["options"], f"{check.where}.student.options")
        method = settings["method"]
        if method in ("bc", "kd"):
            if settings["data"] is None:
                raise check.error("data", f"method {method!r} learns from a dataset: name an earlier generate stage")
            check.earlier_output(settings["data"], "data", "dataset")
            refuse_planned(check, settings["data"])
        if method == "kd" and settings["teacher"] not in [s.name for s in check.earlier]:
            raise check.error("teacher", "method 'kd' needs a model teacher with logits: name an earlier model stage")
        if method == "kd" and not discrete_actions(check.world):
            raise check.error("method", f"method 'kd' distills a softmax over discrete actions, but {check.world} has "
                                        "continuous actions (a softmax over them is meaningless): use 'bc' or 'dagger'")
        return {**settings, "student": student}

    def run(self, context: Any, settings: dict[str, Any]) -> dict[str, Any]:
        from tutelage.methods.lineage import save_derived
        from tutelage.train import save_last_good

        seed = context.stage_seed()
        student = build_student(context, settings["student"], seed)
        teacher = load_policy(context, settings["teacher"], settings["teacher_options"])
        train = {"epochs": settings["epochs"], "batch_size": settings["batch_size"], "lr": settings["lr"], "seed": seed,
                 "callbacks": context.host.callbacks()}
        method = settings["method"]
        path = context.path("models", f"{context.stage.name}.safetensors")
        model_type = settings["student"]["model_type"]
        verdict, depth = guard_data(context, settings, teacher)
        try:
            student, derivation = self._train(context, settings, method, teacher, student, train)
        except NumericalError as exc:  # the intended file is never written; the last good θ is, beside it
            raise save_last_good(exc, path, model_type=model_type) from None
        derivation.dataset = context.output(settings["data"])["dataset_id"] if settings["data"] else derivation.dataset
        derivation.guarded(verdict, depth)
        model_id = save_derived(student, path, derivation, model_type=model_type,
                                metadata={"run": context.run_id, "stage": context.stage.name, "world": context.world})
        context.lineage.add_model(
            model_id, run_id=context.run_id, path=str(path.resolve()), model_type=model_type, method=method,
            parent=derivation.parent, dataset=derivation.dataset, teacher=derivation.teacher,
            n_params=int(student.n_params), size_bytes=path.stat().st_size,
            data_depth=derivation.data_depth, collapse_guard=derivation.collapse_guard,
        )
        return {"model": context.relative(path), "model_id": model_id, "method": method, "teacher": derivation.teacher,
                "n_params": int(student.n_params), **{k: v for k, v in derivation.metrics.items() if _scalar(v)}}

    def _train(self, context: Any, settings: dict[str, Any], method: str, teacher: Any, student: Any,
               train: dict[str, Any]) -> Any:
        if method == "dagger":
            return self._dagger(context, settings, teacher, student, train)
        data = context.resolve(context.output(settings["data"])["dataset"])
        if method == "bc":
            from tutelage.methods.bc import behavior_cloning

            trained = behavior_cloning(student, data, teacher=teacher_label(context, settings["teacher"]),
                                       standardize=settings["standardize"], quiet=context.quiet, **train)
        else:
            trained = knowledge_distillation(context, settings, teacher, student, data, train)
        log_history(context, trained[1].history)
        return trained

    def _dagger(self, context: Any, settings: dict[str, Any], teacher: Any, student: Any, train: dict[str, Any]) -> Any:
        from tutelage.methods.dagger import dagger
        from tutelage.methods.schedules import LinearBetaSchedule

        def on_round(round_num: int, _student: Any, record: dict[str, Any]) -> None:
            for series in ("loss", "success_rate", "beta"):
                if record.get(series) is not None:
                    context.log(kind="curve", panel=f"{context.stage.name}: {series.replace('_', ' ')}", series=series,
                                x=round_num, y=float(record[series]), x_label="DAgger round")

        return dagger(
            context.world, teacher, student, rounds=settings["rounds"], episodes_per_round=settings["episodes_per_round"],
            seed=train["seed"], beta_schedule=LinearBetaSchedule(settings["rampdown"]) if settings["rampdown"] else None,
            edge_case_fraction=context.edge_case_fraction(settings["edge_case_fraction"]),
            max_steps=settings["max_steps"], epochs=train["epochs"], batch_size=train["batch_size"], lr=train["lr"],
            quiet=context.quiet, on_round=on_round, sampler=context.sampler, callbacks=train["callbacks"],
            standardize=settings["standardize"],
            label_every=settings["label_every"], labels_per_episode=settings["labels_per_episode"], keep=settings["keep"],
            workers=settings["workers"], backend=settings["backend"],
            plugins=context.host.local,
        )


def refuse_planned(check: Any, data: str) -> None:
    """A refusing collapse guard stops the spec before anything runs when the data's share and depth can be
    foreseen from the stages that make it (a generate stage played by an earlier model stage)."""
    from tutelage.methods.collapse_guard import CollapseGuard, CollapseRefused

    stages = {s.name: s for s in check.earlier}
    depth = planned_data_depth(stages, data)
    guard = CollapseGuard(**check.collapse_guard) if check.collapse_guard else CollapseGuard()
    if depth is None or guard.action != "refuse":
        return
    share = 1.0 if stages[data].settings["policy"] in stages else 0.0
    verdict = guard.check({"synthetic_share": share, "synthetic_depth": depth}, name=f"{data} (datasets/{data})")
    if verdict.status == "refuse":
        raise CollapseRefused(f"{check.where}.data: {verdict.message} (foreseen from the spec; nothing was run)")


def planned_data_depth(stages: dict[str, Any], name: str) -> int | None:
    """The synthetic depth a generate stage's data will have (None when it cannot be foreseen)."""
    stage = stages.get(name)
    return planned_label_depth(stages, stage.settings["policy"]) if stage and stage.type == "generate" else None


def planned_label_depth(stages: dict[str, Any], ref: str) -> int | None:
    """The depth of the actions a policy makes: 0 for a teacher, one deeper than its training data for a model."""
    stage = stages.get(ref)
    if stage is None:
        return 0
    if stage.type == "distill":
        settings = stage.settings
        trained_on = (planned_label_depth(stages, settings["teacher"]) if settings["method"] == "dagger"
                      else planned_data_depth(stages, settings["data"]))
        return None if trained_on is None else trained_on + 1
    if "model" in stage.settings and isinstance(stage.settings["model"], str):  # e.g. quantize: the same policy
        return planned_label_depth(stages, stage.settings["model"])
    return None


def guard_data(context: Any, settings: dict[str, Any], teacher: Any) -> Any:
    """The run's collapse guard on the training data (the dataset, or for DAgger the teacher's labels), before
    training: refuses (exit 2, nothing written) or warns; the verdict and depth go in the model's lineage."""
    from tutelage.methods.collapse_guard import CollapseGuard, guard_training, policy_provenance, soft_label_provenance

    guard = CollapseGuard.from_spec(context.spec.collapse_guard)
    if settings["data"]:
        root = context.resolve(context.output(settings["data"])["dataset"])
        if settings["method"] == "kd":
            return guard_training(guard, soft_label_provenance(root, teacher),
                                  name=f"{settings['data']} ({context.relative(root)}) with the soft labels of "
                                       f"teacher {settings['teacher']}")
        return guard_training(guard, root, name=f"{settings['data']} ({context.relative(root)})")
    return guard_training(guard, policy_provenance(teacher), name=f"labels of teacher {settings['teacher']}")


def check_build_options(model_type: Any, options: dict[str, Any], where: str) -> None:
    """Options a model type's ``build`` does not take are spec errors, caught before the run starts."""
    parameters = inspect.signature(model_type.build).parameters
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return
    accepted = [name for name, p in parameters.items() if p.kind is p.KEYWORD_ONLY and name != "seed"]
    for key in options:
        if key not in accepted:
            raise UnknownNameError(f"option of model type {model_type.name!r}", key, accepted, where)


def teacher_label(context: Any, ref: str) -> str:
    return teacher_name(context, ref) if is_teacher(context, ref) else context.output(ref)["model_id"]


def discrete_actions(world: str) -> bool:
    """Whether ``world``'s actions are a discrete choice (what a softmax over logits can distill)."""
    import gymnasium

    env = gymnasium.make(world)
    try:
        return isinstance(env.action_space, gymnasium.spaces.Discrete)
    finally:
        env.close()


def build_student(context: Any, student: dict[str, Any], seed: int) -> Any:
    """A fresh model of the student's type, sized by the world's observation and action spaces."""
    from tutelage.sim.spaces import io_sizes

    inputs, outputs = io_sizes(context.world)
    model_type = context.host.registry("model_types").get(student["model_type"])
    return model_type.build((inputs,), outputs, seed=seed, **student["options"])


def knowledge_distillation(context: Any, settings: dict[str, Any], teacher: Any, student: Any, data: Any,
                           train: dict[str, Any]) -> Any:
    """Hinton-style distillation on the dataset's observations, labelled by the teacher's soft outputs."""
    from tutelage.methods.bc import dataset_arrays
    from tutelage.methods.kd import distill

    X, _, dataset_id, _ = dataset_arrays(data)
    return distill(teacher, X, None, student, temperature=settings["temperature"], alpha=settings["alpha"],
                   dataset=dataset_id, quiet=context.quiet, **train)


def log_history(context: Any, histories: list[Any]) -> None:
    """Per-epoch training (and validation) losses of fit Histories as learning-curve records."""
    for history in histories:
        for series in ("loss", "val_loss"):
            for epoch, value in enumerate(getattr(history, series)):
                context.log(kind="curve", panel=f"{context.stage.name}: loss", series=series, x=epoch, y=float(value))


def _scalar(value: Any) -> bool:
    return isinstance(value, (int, float, str, bool)) or value is None
