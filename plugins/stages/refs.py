"""How built-in stages name policies: ``expert``, a registered teacher, or an earlier stage's model."""
from __future__ import annotations

from typing import Any

from tutelage.errors import UnknownNameError

EXPERT = "expert"


def world_expert(host: Any, world: str) -> str:
    """The teacher name of ``world``'s privileged expert (``""`` when it has none)."""
    return host.registry("worlds").get(world).expert


def check_policy(check: Any, value: str, key: str, *, models: bool = True) -> str:
    """Validate a policy reference at spec time; return it unchanged."""
    if value == EXPERT:
        if not world_expert(check.host, check.world):
            raise check.error(key, f"world {check.world!r} declares no expert teacher; name a teacher instead")
        return value
    if value in check.host.registry("teachers"):
        return value
    stage_types = check.host.registry("stage_types")
    model_stages = [s.name for s in check.earlier if "model" in getattr(stage_types.get(s.type), "produces", ())]
    if models and value in model_stages:
        return value
    options = [EXPERT, *check.host.registry("teachers"), *(model_stages if models else [])]
    raise UnknownNameError("teacher or model stage" if models else "teacher", value, options, f"{check.where}.{key}")


def is_teacher(context: Any, ref: str) -> bool:
    return ref == EXPERT or ref not in context.outputs


def teacher_name(context: Any, ref: str) -> str:
    return world_expert(context.host, context.world) if ref == EXPERT else ref


def load_policy(context: Any, ref: str, options: dict[str, Any] | None = None) -> Any:
    """A teacher instance (built with ``options``), or the model file an earlier stage wrote (float or int8)."""
    if is_teacher(context, ref):
        from tutelage.rollouts.policy import build_teacher

        name = teacher_name(context, ref)
        return build_teacher(context.host.registry("teachers").get(name), name, options or {})
    return load_model(context.resolve(context.output(ref)["model"]))


def load_model(path: Any) -> Any:
    from tutelage import nn

    return nn.load(path)  # float or int8
