"""Register every world contributed by a plugin with Gymnasium, lazily.

Gymnasium stores the ``"module:Class"`` entry point and imports it only when
an environment is made, so this never imports PyBullet.
"""
from __future__ import annotations

import gymnasium

from tutelage.plugins import get_host


def register_worlds() -> list[str]:
    """Register the worlds of all loaded plugins; return their ids."""
    registered = []
    for world_id, spec in get_host().registry("worlds").items():
        if world_id not in gymnasium.registry:
            gymnasium.register(
                id=world_id,
                entry_point=spec.entry_point,
                max_episode_steps=spec.max_episode_steps,
                kwargs=dict(spec.kwargs),
            )
        registered.append(world_id)
    return registered
