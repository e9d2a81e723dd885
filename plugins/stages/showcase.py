"""Side-by-side GIF: two policies driving the same edge-case scenario, rendered frame by frame."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

GAP = 6


def rollout_frames(world: str, policy: Any, scenario: dict[str, Any], seed: int, *, steps: int, every: int) -> list[np.ndarray]:
    """RGB frames of one episode (every ``every``-th step, at most ``steps`` steps)."""
    from tutelage.rollouts.policy import as_policy, reset_policy
    from tutelage.rollouts.rollout import make_env, to_action

    act = as_policy(policy)
    env = make_env(world, camera=True)
    try:
        observation, info = env.reset(seed=seed, options={"scenario": scenario})
        reset_policy(policy, seed)
        frames = [env.render()]
        for step in range(1, steps + 1):
            observation, _, terminated, truncated, info = env.step(to_action(env.action_space, act(observation, info)))
            if step % every == 0 or terminated or truncated:
                frames.append(env.render())
            if terminated or truncated:
                break
    finally:
        env.close()
    return frames


def labelled(frame: np.ndarray, label: str) -> np.ndarray:
    image = Image.fromarray(np.ascontiguousarray(frame[:, :, :3]))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, image.width, 14), fill=(0, 0, 0))
    draw.text((4, 2), label, fill=(255, 255, 255))
    return np.asarray(image)


def side_by_side(left: list[np.ndarray], right: list[np.ndarray], labels: tuple[str, str]) -> list[np.ndarray]:
    """Frames of two episodes next to each other; the shorter one holds its last frame."""
    frames = []
    for i in range(max(len(left), len(right))):
        a = labelled(left[min(i, len(left) - 1)], labels[0])
        b = labelled(right[min(i, len(right) - 1)], labels[1])
        gap = np.full((a.shape[0], GAP, 3), 255, np.uint8)
        frames.append(np.concatenate([a, gap, b], axis=1))
    return frames


def record_pair(world: str, policies: dict[str, Any], scenario: dict[str, Any], seed: int, path: Path, *, steps: int,
                every: int) -> str:
    """Write the GIF of both policies in the same ``scenario``; return its caption."""
    from tutelage.sim.render import save_gif

    edge_case = " + ".join(scenario.get("edge_cases") or [])
    (left_label, left), (right_label, right) = policies.items()
    frames = side_by_side(rollout_frames(world, left, scenario, seed, steps=steps, every=every),
                          rollout_frames(world, right, scenario, seed, steps=steps, every=every), (left_label, right_label))
    fps = 25.0
    save_gif(frames, path, fps=fps)
    where = f"edge case '{edge_case}'" if edge_case else "a randomized scenario"
    return f"{where}: {left_label} (left) and {right_label} (right), same scenario, every {every}th step"
