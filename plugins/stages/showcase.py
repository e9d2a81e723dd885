"""Side-by-side GIF: two policies in the same edge-case episode, from shortly before its closest encounter
to the episode's end, each panel labelled with the policy, the time, the speed and the outcome."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

GAP = 6
BAR = 14
#: seconds of the episode shown before the closest encounter
LEAD_SECONDS = 2.0


@dataclass
class Episode:
    """One episode to show: the scenario and the seeds the evaluation played it with."""

    scenario: dict[str, Any]
    env_seed: int
    policy_seed: int


@dataclass
class Trace:
    """What one policy did in an episode: the step of the closest encounter, the end and the outcome."""

    closest: int
    length: int
    outcome: str
    dt: float
    frames: list[np.ndarray] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)


def encounter_gap(info: dict[str, Any]) -> float:
    """How close the ego is to trouble at one step: the smallest gap to another body (m), else the least time
    to collision (s); inf when the world reports neither."""
    distances = info.get("distances")
    if distances is not None and np.size(distances):
        return float(np.min(np.asarray(distances, dtype=np.float64)))
    return float(info.get("min_ttc", math.inf))


def outcome(info: dict[str, Any], truncated: bool) -> str:
    """``success``, ``collision with <kind>``, ``off road`` or ``time limit``, from the last step's info."""
    if info.get("is_success"):
        return "success"
    if info.get("collision"):
        return f"collision with {info.get('collided_with') or 'an obstacle'}"
    if info.get("off_road"):
        return "off road"
    return "time limit" if truncated else "stopped"


def play(world: str, policy: Any, episode: Episode, *, every: int = 1, start: int | None = None) -> Trace:
    """Play the episode to its end; with ``start`` given, render every ``every``-th step from ``start`` on,
    otherwise only find the closest encounter."""
    from tutelage.rollouts.policy import as_policy, reset_policy
    from tutelage.rollouts.rollout import make_env, to_action

    act = as_policy(policy)
    env = make_env(world, camera=start is not None)
    try:
        observation, info = env.reset(seed=episode.env_seed, options={"scenario": episode.scenario})
        reset_policy(policy, episode.policy_seed)
        dt = float(getattr(env.unwrapped, "dt", 0.0) or 0.0)
        trace = Trace(closest=0, length=0, outcome="", dt=dt)
        best, step, done, truncated = encounter_gap(info), 0, False, False
        while not done:
            if start is not None and step >= start and (step - start) % every == 0:
                trace.frames.append(env.render())
                trace.captions.append(panel_caption(info, step, dt))
            observation, _, terminated, truncated, info = env.step(to_action(env.action_space, act(observation, info)))
            step += 1
            done = terminated or truncated
            gap = encounter_gap(info)
            if gap < best:
                best, trace.closest = gap, step
        if start is not None:
            trace.frames.append(env.render())
            trace.captions.append(panel_caption(info, step, dt))
        trace.length, trace.outcome = step, outcome(info, truncated) if done else "still driving"
    finally:
        env.close()
    return trace


def panel_caption(info: dict[str, Any], step: int, dt: float) -> str:
    seconds = float(info.get("time", step * dt))
    speed = info.get("speed")
    return f"t {seconds:5.2f} s" + (f" · {float(speed):4.2f} m/s" if speed is not None else f" · step {step}")


def labelled(frame: np.ndarray, top: str, bottom: str, colour: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    """The frame with a black bar on top (``top``) and a bar below (``bottom``, in ``colour``)."""
    image = Image.fromarray(np.ascontiguousarray(frame[:, :, :3]))
    canvas = Image.new("RGB", (image.width, image.height + 2 * BAR), (0, 0, 0))
    canvas.paste(image, (0, BAR))
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 2), top, fill=(255, 255, 255))
    draw.rectangle((0, BAR + image.height, canvas.width, canvas.height), fill=colour)
    draw.text((4, BAR + image.height + 2), bottom, fill=(255, 255, 255))
    return np.asarray(canvas)


def panels(trace: Trace, label: str, count: int) -> list[np.ndarray]:
    """``count`` labelled frames of one policy; after its end the last frame holds, with the outcome shown."""
    colour = (20, 120, 40) if trace.outcome == "success" else (170, 30, 30)
    out = []
    for i in range(count):
        j = min(i, len(trace.frames) - 1)
        finished = i >= len(trace.frames) - 1
        bottom = f"{trace.captions[j]} · {trace.outcome}" if finished else trace.captions[j]
        out.append(labelled(trace.frames[j], label, bottom, colour if finished else (0, 0, 0)))
    return out


def side_by_side(left: list[np.ndarray], right: list[np.ndarray]) -> list[np.ndarray]:
    gap = np.full((left[0].shape[0], GAP, 3), 255, np.uint8)
    return [np.concatenate([a, gap, b], axis=1) for a, b in zip(left, right)]


def record_pair(world: str, policies: dict[str, Any], episode: Episode, path: Path, *, steps: int, every: int,
                hold: int = 12) -> str:
    """Write the GIF of both policies in ``episode``, from shortly before the earlier of their closest
    encounters to the later end, every ``every``-th step (more apart when that would give more than
    ``steps // every`` frames); return its caption."""
    from tutelage.sim.render import save_gif

    (left_label, left), (right_label, right) = policies.items()
    first = [play(world, policy, episode) for policy in (left, right)]
    lead = int(round(LEAD_SECONDS / first[0].dt)) if first[0].dt else 20 * every
    start = max(0, min(t.closest for t in first) - lead)
    every = max(every, math.ceil((max(t.length for t in first) - start) / max(1, steps // every)))  # a bounded GIF
    shown = [play(world, policy, episode, every=every, start=start) for policy in (left, right)]
    count = max(len(t.frames) for t in shown) + hold
    frames = side_by_side(panels(shown[0], left_label, count), panels(shown[1], right_label, count))
    save_gif(frames, path, fps=25.0)
    edge_case = " + ".join(episode.scenario.get("edge_cases") or [])
    where = f"edge case '{edge_case}'" if edge_case else "a randomized scenario"
    return (f"{where}, the same episode for both: {left_label} (left, {shown[0].outcome}) and {right_label} "
            f"(right, {shown[1].outcome}), from {LEAD_SECONDS:g} s before the closest encounter to the end, "
            f"every {every}th step")
