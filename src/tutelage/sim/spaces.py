"""Sizes of a world's spaces, for building a model that fits it."""
from __future__ import annotations

import gymnasium


def io_sizes(world_id: str) -> tuple[int, int]:
    """``(inputs, outputs)`` of a policy for ``world_id``: the flat observation size and the action size
    (the number of actions for a discrete space)."""
    env = gymnasium.make(world_id)
    try:
        inputs = gymnasium.spaces.flatdim(env.observation_space)
        space = env.action_space
        outputs = int(space.n) if isinstance(space, gymnasium.spaces.Discrete) else gymnasium.spaces.flatdim(space)
    finally:
        env.close()
    return inputs, outputs
