"""The ``reward`` stage: a Bradley–Terry reward model from an earlier ``judge`` stage's preferences."""
from __future__ import annotations

from typing import Any

from tutelage.runs.schema import Field
from tutelage_plugins.stages.judge import ORACLE_FILE


class RewardStage:
    """Train a reward model; accuracy on the held-out pairs, on the judge's labels and on the oracle's."""

    name = "reward"
    produces = ("model",)
    settings = {
        "data": Field(str, help="an earlier judge stage"),
        "model_type": Field(str, "mlp"),
        "options": Field(dict, {"hidden": [32]}, help="options of the model type's build"),
        "mode": Field(str, "step", choices=("step", "trajectory"), help="per-step reward summed, or one score"),
        "epochs": Field(int, 30, minimum=1),
        "lr": Field(float, 3e-3, minimum=0.0),
        "batch_size": Field(int, 32, minimum=1),
        "margin": Field(float, 0.0, minimum=0.0),
        "validation": Field(float, 0.2, minimum=0.0, maximum=0.9, help="share of labels held out"),
    }

    def validate(self, settings: dict[str, Any], check: Any) -> dict[str, Any]:
        if settings["data"] not in [s.name for s in check.earlier]:
            raise check.error("data", "name an earlier judge stage")
        if settings["model_type"] not in check.host.registry("model_types"):
            raise check.error("model_type", f"unknown model type {settings['model_type']!r}")
        return settings

    def run(self, context: Any, settings: dict[str, Any]) -> dict[str, Any]:
        from tutelage.methods.preferences import load_dataset, read_rows
        from tutelage.methods.reward import input_size, pair_accuracy, save_reward_model, train_reward_model

        seed = context.stage_seed()
        folder = context.resolve(context.output(settings["data"])["dataset"])
        rows, trajectories = load_dataset(folder)
        size = input_size(next(iter(trajectories.values())), settings["mode"])
        model = context.host.registry("model_types").get(settings["model_type"]).build((size,), 1, seed=seed, **settings["options"])
        reward, report = train_reward_model(model, rows, trajectories, mode=settings["mode"], epochs=settings["epochs"],
                                            lr=settings["lr"], batch_size=settings["batch_size"], margin=settings["margin"],
                                            validation=settings["validation"] or None, seed=seed, quiet=context.quiet,
                                            callbacks=context.host.callbacks())
        for epoch, value in enumerate(report.pop("loss")):
            context.log(kind="curve", panel=f"{context.stage.name}: Bradley–Terry loss", series="loss", x=epoch, y=value,
                        x_label="epoch")
        report.pop("val_loss", None)
        held_out = set(report.pop("held_out", []))
        oracle = [r for r in read_rows(folder / ORACLE_FILE, "oracle verdicts") if r["pair_id"] in held_out]
        correct, compared = pair_accuracy(reward, oracle, trajectories)
        path = context.path("models", f"{context.stage.name}.safetensors")
        model_id = save_reward_model(reward, path, lineage={"method": "bradley_terry", "dataset": context.output(settings["data"])["dataset_id"]},
                                     metadata={"run": context.run_id, "stage": context.stage.name, "world": context.world})
        return {"model": context.relative(path), "model_id": model_id, "n_params": int(model.n_params), **report,
                "val_oracle_accuracy": correct / max(compared, 1), "val_oracle_pairs": compared}
