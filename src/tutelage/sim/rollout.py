"""Rollouts: episode seeds, generating policies, and recording one episode as columns.

Every random choice of an episode derives from the run seed and the episode
index alone (:func:`episode_seeds`), so an episode is the same whichever
worker, process or Ray task plays it.
"""
from __future__ import annotations

import functools
import hashlib
import io
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from tutelage.data.features import IMAGE_COLUMN, Features, encode_value, split_value
from tutelage.data.writer import EpisodeRecord
from tutelage.errors import ModelFileError, SpecError, UnknownNameError
from tutelage.plugins import registry

MODEL_SUFFIX = ".safetensors"


@dataclass(frozen=True)
class EpisodeSeeds:
    """The seeds of one episode: the world's reset, the policy, the scenario draw."""

    env: int
    policy: int
    scenario: int


def episode_seeds(run_seed: int, episode_index: int) -> EpisodeSeeds:
    """Seeds of episode ``episode_index`` of a run, from ``SeedSequence(run_seed, spawn_key=(index,))``."""
    if run_seed < 0:
        raise SpecError(f"--seed: must be a non-negative integer, got {run_seed}")
    state = np.random.SeedSequence(run_seed, spawn_key=(episode_index,)).generate_state(3, np.uint32)
    return EpisodeSeeds(*(int(value) for value in state))


@dataclass(frozen=True)
class EpisodePlan:
    """What one episode plays: its seeds and its scenario (None for worlds without scenarios)."""

    index: int
    seeds: EpisodeSeeds
    scenario: dict[str, Any] | None = None
    edge_case: str = ""


# -- policies ----------------------------------------------------------------


@dataclass(frozen=True)
class PolicySpec:
    """A generating policy, resolved and checked on the driver, rebuilt in each worker.

    ``kind`` is ``"random"``, ``"teacher"`` or ``"model"``; ``synthetic`` says
    whether its frames count as model-generated (see ``synthetic_share``):
    a model file, or a teacher that wraps a model and exposes its ``model_id``
    (and ``lineage``). ``lineage`` is the model file's record: parent model id,
    method, dataset, teacher.
    """

    name: str
    kind: str
    teacher: str = ""
    path: str = ""
    sha256: str = ""
    model_id: str = ""
    lineage: dict[str, Any] = field(default_factory=dict)
    synthetic: bool = False

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "synthetic": self.synthetic}
        if self.teacher:
            out["teacher"] = self.teacher
        if self.path:
            out.update(path=self.path, sha256=self.sha256)
        if self.model_id:
            out["model_id"] = self.model_id
        out["lineage"] = dict(self.lineage)
        return out

    def fingerprint(self) -> dict[str, Any]:
        """What decides the generated data (a model's bytes, not where the file lies)."""
        out = self.describe()
        out.pop("path", None)
        if self.kind == "model":
            out.pop("name")
        return out


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@functools.lru_cache(maxsize=4)
def load_model(path: str, sha256: str) -> Any:
    """A model file loaded once per process, checked to be the file the run was started with."""
    from tutelage import nn

    if file_sha256(path) != sha256:
        raise ModelFileError(f"{path}: model file changed while generating (SHA-256 differs)")
    return nn.load(path)


def world_expert(world_id: str) -> str:
    """The teacher name of a world's privileged expert."""
    worlds = registry("worlds")
    if world_id not in worlds:
        raise SpecError(f"--policy expert: world {world_id!r} is not a tutelage world, so it has no expert")
    expert = worlds.get(world_id).expert
    if not expert:
        raise SpecError(f"--policy expert: world {world_id!r} declares no expert teacher")
    return expert


def resolve_policy(name: str, world_id: str) -> PolicySpec:
    """Check a ``--policy`` value: ``random``, ``expert``, a teacher name or a ``.safetensors`` file."""
    if name == "random":
        return PolicySpec(name, "random")
    if name.endswith(MODEL_SUFFIX) or os.sep in name:
        path = Path(name)
        if not path.is_file():
            raise ModelFileError(f"{name}: --policy model file not found")
        digest = file_sha256(path)
        model = load_model(str(path.resolve()), digest)
        info = dict(getattr(model, "info", {}) or {})
        model_id = str(info.get("id", ""))
        if not model_id:
            raise ModelFileError(f"{name}: model file has no id in its metadata (field 'id')")
        return PolicySpec(name, "model", path=str(path.resolve()), sha256=digest,
                          model_id=model_id, lineage=dict(info.get("lineage") or {}), synthetic=True)
    teacher = world_expert(world_id) if name == "expert" else name
    teachers = registry("teachers")
    if teacher not in teachers:
        raise UnknownNameError("policy", name, ["random", "expert", *teachers], where="--policy")
    instance = teachers.get(teacher)()
    model_id = str(getattr(instance, "model_id", "") or "")
    lineage = dict(getattr(instance, "lineage", {}) or {})
    return PolicySpec(name, "teacher", teacher=teacher, model_id=model_id, lineage=lineage, synthetic=bool(model_id))


def to_action(space: spaces.Space, output: Any, where: str = "model") -> Any:
    """Turn a model's output into a valid action: argmax (or the rounded value) for Discrete,
    clipped for Box."""
    values = np.asarray(output, dtype=np.float64).ravel()
    if isinstance(space, spaces.Discrete):
        if values.size > 1:
            return int(space.start + np.argmax(values))
        return int(np.clip(np.rint(values[0]), space.start, space.start + space.n - 1))
    if isinstance(space, spaces.Box):
        if values.size != int(np.prod(space.shape)):
            raise ModelFileError(f"{where}: model outputs {values.size} values but the action space needs {space.shape}")
        return np.clip(values.reshape(space.shape), space.low, space.high).astype(space.dtype)
    raise SpecError(f"action: unsupported action space {space!r}")


class Policy:
    """A generating policy inside a worker: ``reset(seed)`` each episode, then ``act``."""

    def __init__(self, spec: PolicySpec, env: gymnasium.Env):
        self.spec = spec
        self.observation_space = env.observation_space
        self.action_space = env.action_space
        self._model = load_model(spec.path, spec.sha256) if spec.kind == "model" else None
        self._teacher: Any = None

    def reset(self, seed: int) -> None:
        if self.spec.kind == "random":
            self.action_space.seed(seed)
        elif self.spec.kind == "teacher":  # a fresh teacher: nothing carries over between episodes
            self._teacher = registry("teachers").get(self.spec.teacher)()

    def act(self, observation: Any, info: Mapping[str, Any]) -> Any:
        if self.spec.kind == "random":
            return self.action_space.sample()
        if self.spec.kind == "teacher":
            return self._teacher.act(observation, info)
        flat = spaces.flatten(self.observation_space, observation).astype(np.float32)
        return to_action(self.action_space, self._model(flat), where=self.spec.name)


# -- recording ---------------------------------------------------------------


def check_world(world_id: str) -> None:
    """Raise a helpful error unless ``world_id`` is a registered Gymnasium environment."""
    import tutelage.worlds  # noqa: F401  (registers the worlds, also in a fresh worker process)

    if world_id not in gymnasium.registry:
        raise UnknownNameError("world", world_id, gymnasium.registry, where="WORLD")


def make_env(world_id: str, *, camera: bool = False, max_steps: int | None = None) -> gymnasium.Env:
    """A fresh environment (one simulator client) with a time limit."""
    check_world(world_id)
    kwargs: dict[str, Any] = {"render_mode": "rgb_array"} if camera else {}
    if max_steps is not None:
        kwargs["max_episode_steps"] = max_steps
    env = gymnasium.make(world_id, **kwargs)
    if env.spec is None or env.spec.max_episode_steps is None:
        env.close()
        raise SpecError(f"--max-steps: world {world_id!r} has no time limit; give one")
    return env


def png_bytes(frame: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(frame[..., :3], dtype=np.uint8)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def reset_env(env: gymnasium.Env, plan: EpisodePlan) -> tuple[Any, dict[str, Any]]:
    options = {"scenario": plan.scenario} if plan.scenario is not None else None
    return env.reset(seed=plan.seeds.env, options=options)


def run_episode(env: gymnasium.Env, policy: Policy, features: Features, plan: EpisodePlan) -> EpisodeRecord:
    """Play ``plan`` to its end with ``policy``; frame ``t`` holds observation ``t``, the action
    taken there, and the reward, flags and info that the step returned."""
    observation, info = reset_env(env, plan)
    policy.reset(plan.seeds.policy)
    scenario = info.get("scenario", plan.scenario) or {}
    columns: dict[str, list[Any]] = {name: [] for name in features.schema().names if name not in ("index", "timestamp")}
    done, total, collided, off_road, frame, min_ttc = False, 0.0, False, False, 0, math.inf
    while not done:
        for name, value in split_value(features.observation_prefix, env.observation_space, observation).items():
            columns[name].append(value)
        if features.camera:
            columns[IMAGE_COLUMN].append(png_bytes(env.render()))
        action = policy.act(observation, info)
        observation, reward, terminated, truncated, info = env.step(action)
        columns["action"].append(action)
        columns["reward"].append(float(reward))
        columns["terminated"].append(bool(terminated))
        columns["truncated"].append(bool(truncated))
        for key, arrow_type in features.info_keys.items():
            columns[f"info.{key}"].append(encode_value(info.get(key), arrow_type))
        total += float(np.float32(reward))
        collided = collided or bool(info.get("collision", False))
        off_road = off_road or bool(info.get("off_road", False))
        min_ttc = min(min_ttc, float(info.get("min_ttc", math.inf)))
        frame += 1
        done = terminated or truncated
    for key, arrow_type in features.scenario_keys.items():
        columns[f"scenario.{key}"] = [encode_value(scenario.get(key), arrow_type)] * frame
    columns["episode_index"] = [plan.index] * frame
    columns["frame_index"] = list(range(frame))
    meta = {
        "episode_index": plan.index,
        "length": frame,
        "env_seed": plan.seeds.env,
        "policy_seed": plan.seeds.policy,
        "return": total,
        "success": bool(info["is_success"]) if "is_success" in info else None,
        "collision": collided,
        "off_road": off_road,
        "min_ttc": min_ttc if math.isfinite(min_ttc) else None,
        "edge_case": plan.edge_case,
        "scenario": scenario,
        "synthetic_frames": frame if policy.spec.synthetic else 0,
    }
    return EpisodeRecord(columns, meta)
