"""The ``quantize`` stage: an int8 child of an earlier model (per-output-channel scales)."""
from __future__ import annotations

from typing import Any

from tutelage.runs.schema import Field


class QuantizeStage:
    """``models/<stage>.safetensors``: int8 weights; its parent, teacher and dataset are the float model's."""

    name = "quantize"
    produces = ("model",)
    settings = {"model": Field(str, help="an earlier model stage")}

    def validate(self, settings: dict[str, Any], check: Any) -> dict[str, Any]:
        check.earlier_output(settings["model"], "model", "model")
        return settings

    def run(self, context: Any, settings: dict[str, Any]) -> dict[str, Any]:
        from tutelage import nn
        from tutelage.methods.lineage import Derivation, save_derived
        from tutelage.nn.quantize import quantize

        parent = context.output(settings["model"])
        parent_path = context.resolve(parent["model"])
        model = nn.load(parent_path)
        lineage = model.info.get("lineage") or {}
        derivation = Derivation("int8", parent=model.info["id"], teacher=lineage.get("teacher"), dataset=lineage.get("dataset"))
        path = context.path("models", f"{context.stage.name}.safetensors")
        quantized = quantize(model)
        model_id = save_derived(quantized, path, derivation, model_type=model.info["model_type"],
                                metadata={"run": context.run_id, "stage": context.stage.name, "world": context.world})
        size, parent_size = path.stat().st_size, parent_path.stat().st_size
        context.lineage.add_model(
            model_id, run_id=context.run_id, path=str(path.resolve()), model_type=f"{model.info['model_type']}-int8",
            method="int8", parent=model.info["id"], dataset=derivation.dataset, teacher=derivation.teacher,
            n_params=int(model.n_params), size_bytes=size,
        )
        return {"model": context.relative(path), "model_id": model_id, "n_params": int(model.n_params),
                "file_bytes": size, "size_ratio": size / parent_size}
