"""One episode, played and recorded the same way for generation, evaluation, DAgger and search.

:func:`run_episode` plays an :class:`~tutelage.rollouts.plan.EpisodePlan` with
any ``act(observation, info)``; its record holds the core's ``success`` (the
last step's ``info["is_success"]``) and ``return``, and the metrics the world
declares (:mod:`tutelage.sim.metrics`). Given dataset ``features`` it also
records every frame's columns.
"""
from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np

from tutelage.data.features import IMAGE_COLUMN, Features, encode_value, split_value
from tutelage.data.writer import EpisodeRecord
from tutelage.errors import SpecError, UnknownNameError
from tutelage.rollouts.plan import EpisodePlan
from tutelage.sim.metrics import EpisodeMetrics, Metric

Act = Callable[[Any, dict], Any]


def check_world(world_id: str) -> None:
    """Raise a helpful error unless ``world_id`` is registered with Gymnasium."""
    if world_id not in gymnasium.registry:
        hint = " (tutelage worlds are registered by the plugin host: `import tutelage.worlds`)"
        raise UnknownNameError("world", world_id, gymnasium.registry, where="WORLD" + hint)


def make_env(world_id: str, *, camera: bool = False, max_steps: int | None = None,
             env_kwargs: dict[str, Any] | None = None) -> gymnasium.Env:
    """A fresh environment (one simulator client) with a time limit."""
    check_world(world_id)
    kwargs: dict[str, Any] = dict(env_kwargs or {})
    if camera:
        kwargs["render_mode"] = "rgb_array"
    if max_steps is not None:
        kwargs["max_episode_steps"] = max_steps
    env = gymnasium.make(world_id, **kwargs)
    if env.spec is None or env.spec.max_episode_steps is None:
        env.close()
        raise SpecError(f"--max-steps: world {world_id!r} has no time limit; give one")
    return env


def world_metrics(env: gymnasium.Env) -> tuple[Metric, ...]:
    """The metrics a world declares (none for a plain Gymnasium environment)."""
    return tuple(getattr(env.unwrapped, "metrics", ()) or ())


def to_action(space: gymnasium.spaces.Space, output: Any, where: str = "policy") -> Any:
    """A valid action from a policy's output: argmax (or the rounded value) for Discrete, clipped for Box."""
    values = np.asarray(output, dtype=np.float64).ravel()
    if isinstance(space, gymnasium.spaces.Discrete):
        if values.size > 1:
            return int(space.start + np.argmax(values))
        return int(np.clip(np.rint(values[0]), space.start, space.start + space.n - 1))
    if isinstance(space, gymnasium.spaces.Box):
        if values.size != int(np.prod(space.shape)):
            raise SpecError(f"{where}: outputs {values.size} values but the action space needs {space.shape}")
        return np.clip(values.reshape(space.shape), space.low, space.high).astype(space.dtype)
    raise SpecError(f"action: unsupported action space {space!r}")


def png_bytes(frame: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(frame[..., :3], dtype=np.uint8)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def run_episode(env: gymnasium.Env, act: Act, plan: EpisodePlan, *, features: Features | None = None,
                synthetic: bool = False, on_step: Callable[[Any, dict, Any], None] | None = None) -> EpisodeRecord:
    """Play ``plan`` to its end with ``act``; frame ``t`` holds observation ``t``, the action taken there,
    and the reward, flags and info that the step returned. ``on_step(observation, info, action)`` sees
    every step before it is taken (DAgger labels states there)."""
    observation, info = env.reset(seed=plan.seeds.env, options=plan.reset_options())
    scenario = info.get("scenario", plan.scenario) or {}
    metrics = EpisodeMetrics(world_metrics(env))
    columns: dict[str, list[Any]] = {}
    if features is not None:
        columns = {name: [] for name in features.schema().names if name not in ("index", "timestamp", "synthetic_depth")}
    total, steps, done = 0.0, 0, False
    while not done:
        if features is not None:
            for name, value in split_value(features.observation_prefix, env.observation_space, observation).items():
                columns[name].append(value)
            if features.camera:
                columns[IMAGE_COLUMN].append(png_bytes(env.render()))
        action = to_action(env.action_space, act(observation, info))
        if on_step is not None:
            on_step(observation, info, action)
        observation, reward, terminated, truncated, info = env.step(action)
        if features is not None:
            columns["action"].append(action)
            columns["reward"].append(float(reward))
            columns["terminated"].append(bool(terminated))
            columns["truncated"].append(bool(truncated))
            for key, arrow_type in features.info_keys.items():
                columns[f"info.{key}"].append(encode_value(info.get(key), arrow_type))
        metrics.add(info)
        total += float(np.float32(reward))
        steps += 1
        done = terminated or truncated
    if features is not None:
        for key, arrow_type in features.scenario_keys.items():
            columns[f"scenario.{key}"] = [encode_value(scenario.get(key), arrow_type)] * steps
        columns["episode_index"] = [plan.index] * steps
        columns["frame_index"] = list(range(steps))
    meta = {
        "episode_index": plan.index,
        "length": steps,
        "env_seed": plan.seeds.env,
        "policy_seed": plan.seeds.policy,
        "return": total,
        "success": bool(info["is_success"]) if "is_success" in info else None,
        "edge_case": plan.edge_case,
        "scenario": scenario,
        "synthetic_frames": steps if synthetic else 0,
        **metrics.values(),
    }
    return EpisodeRecord(columns, meta)
