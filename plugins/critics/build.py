"""Build a critic by name for a world and a constitution: what the CLI and the stages share."""
from __future__ import annotations

from typing import Any

from tutelage.errors import SpecError


def build_critic(host: Any, name: str, constitution: Any, world: str, *, model: str | None = None,
                 where: str = "--critic", **options: Any) -> Any:
    """The critic ``name`` from the host's registry, built for ``constitution``.

    ``rules`` gets the world's expert as its fallback reviser; ``learned``
    needs ``model`` (a trained critic's ``.safetensors``); any other critic
    gets the constitution and ``options``.
    """
    factory = host.registry("critics").get(name, where=where)
    if name == "rules":
        expert = host.registry("worlds").get(world).expert if world in host.registry("worlds") else ""
        options.setdefault("expert", host.registry("teachers").get(expert)() if expert else None)
    elif name == "learned":
        if not model:
            raise SpecError(f"{where}: the learned critic needs a trained critic model (--critic-model FILE)")
        options["model"] = model
    try:
        return factory(constitution=constitution, **options)
    except TypeError as exc:
        raise SpecError(f"{where}: critic {name!r}: bad options {sorted(options)}: {exc}") from None
