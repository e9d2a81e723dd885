"""Turn whatever a user hands us into a policy ``act(observation, info) -> action``.

Accepted: a teacher (anything with ``.act(observation, info)``), a model
(``model(x)``: a :class:`tutelage.nn.Model` or a quantized one), or a plain
callable taking ``(observation, info)`` or just ``(observation)``. Dict
observations are flattened to one float32 vector (keys in sorted order) before
they reach a model.

A generating policy named on the command line or in a spec (``random``,
``expert``, a teacher name with options, a ``.safetensors`` file) is resolved
on the driver into a small picklable :class:`PolicySpec` and rebuilt in each
worker (:class:`Policy`), with the driver's ``--plugin`` modules.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tutelage.errors import ModelFileError, SpecError, UnknownNameError

MODEL_SUFFIX = ".safetensors"

Policy = Callable[[Any, dict], np.ndarray]


def observation_vector(observation: Any, keys: Sequence[str] | None = None) -> np.ndarray:
    """One flat float32 vector from an array observation or a dict of arrays (sorted keys, or ``keys``)."""
    if isinstance(observation, Mapping):
        names = list(keys) if keys is not None else sorted(observation)
        parts = [np.asarray(observation[name], dtype=np.float32).ravel() for name in names]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return np.asarray(observation, dtype=np.float32).ravel()


def is_model(obj: Any) -> bool:
    """True for tutelage models and quantized models (they carry a ``spec`` and take one array)."""
    return callable(obj) and hasattr(obj, "spec") and not hasattr(obj, "act")


def _takes_info(fn: Callable) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return True
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2


def as_policy(obj: Any, observation_keys: Sequence[str] | None = None) -> Policy:
    """A function ``(observation, info) -> action`` for a teacher, model or callable."""
    if hasattr(obj, "act"):
        return obj.act
    if is_model(obj):
        def model_policy(observation: Any, info: dict) -> np.ndarray:
            return np.asarray(obj(observation_vector(observation, observation_keys)))
        return model_policy
    if callable(obj):
        if _takes_info(obj):
            return obj
        return lambda observation, info: obj(observation)
    raise TypeError(f"cannot use {type(obj).__name__} as a policy: expected a teacher (.act), a model or a callable")


def reset_policy(obj: Any, seed: int | None = None) -> None:
    """Start an episode: ``obj.reset(seed=seed)`` when a teacher or policy has a reset (``reset()``
    when it takes no seed)."""
    reset = getattr(obj, "reset", None)
    if not callable(reset):
        return
    try:
        accepts_seed = "seed" in inspect.signature(reset).parameters
    except (TypeError, ValueError):
        accepts_seed = False
    if accepts_seed:
        reset(seed=seed)
    else:
        reset()


def policy_name(obj: Any) -> str:
    """A short human name for reports."""
    info = getattr(obj, "info", None)
    if isinstance(info, Mapping) and info.get("id"):
        return str(info["id"])
    return str(getattr(obj, "name", None) or getattr(obj, "__name__", None) or type(obj).__name__)


# -- generating policies named by users ----------------------------------------


@dataclass(frozen=True)
class PolicySpec:
    """A generating policy, resolved and checked on the driver, rebuilt in each worker.

    ``kind`` is ``"random"``, ``"teacher"`` or ``"model"``; ``synthetic`` says
    whether its frames count as model-generated (see ``synthetic_share``): a
    model file, or a teacher that wraps a model and exposes its ``model_id``.
    ``options`` are the teacher factory's keyword arguments; ``plugins`` the
    local plugin modules the worker's host loads (so a ``--plugin`` world or
    teacher works in every worker).
    """

    name: str
    kind: str
    teacher: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    path: str = ""
    sha256: str = ""
    model_id: str = ""
    lineage: dict[str, Any] = field(default_factory=dict)
    synthetic: bool = False
    plugins: tuple[str, ...] = ()

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "synthetic": self.synthetic}
        if self.teacher:
            out["teacher"] = self.teacher
        if self.options:
            out["options"] = dict(self.options)
        if self.path:
            out.update(path=self.path, sha256=self.sha256)
        if self.model_id:
            out["model_id"] = self.model_id
        out["lineage"] = dict(self.lineage)
        return out

    def fingerprint(self) -> dict[str, Any]:
        """What decides the generated data: the resolved teacher and its options, or a model's
        bytes; not how it was spelled (``expert`` or its name) nor where a file lies."""
        out = self.describe()
        out.pop("path", None)
        if self.kind != "random":
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


def world_expert(host: Any, world_id: str, where: str = "--policy expert") -> str:
    """The teacher name of a world's privileged expert."""
    worlds = host.registry("worlds")
    if world_id not in worlds:
        raise SpecError(f"{where}: world {world_id!r} is not a tutelage world, so it has no expert")
    expert = worlds.get(world_id).expert
    if not expert:
        raise SpecError(f"{where}: world {world_id!r} declares no expert teacher")
    return expert


def resolve_policy(name: str, world_id: str, host: Any, options: Mapping[str, Any] | None = None) -> PolicySpec:
    """Check a ``--policy`` value: ``random``, ``expert``, a teacher name (built with ``options``) or a
    ``.safetensors`` file; the teacher is built once here so a bad option fails before any work."""
    options, local = dict(options or {}), tuple(getattr(host, "local", ()))
    if name == "random" or name.endswith(MODEL_SUFFIX) or os.sep in name:
        if options:
            raise SpecError(f"--policy-option: only teachers take options, not {name!r}")
    if name == "random":
        return PolicySpec(name, "random", plugins=local)
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
                          model_id=model_id, lineage=dict(info.get("lineage") or {}), synthetic=True, plugins=local)
    teacher = world_expert(host, world_id) if name == "expert" else name
    teachers = host.registry("teachers")
    if teacher not in teachers:
        raise UnknownNameError("policy", name, ["random", "expert", *teachers], where="--policy")
    instance = build_teacher(teachers.get(teacher), teacher, options)
    model_id = str(getattr(instance, "model_id", "") or "")
    lineage = dict(getattr(instance, "lineage", {}) or {})
    return PolicySpec(name, "teacher", teacher=teacher, options=options, model_id=model_id, lineage=lineage,
                      synthetic=bool(model_id), plugins=local)


def build_teacher(factory: Any, name: str, options: Mapping[str, Any]) -> Any:
    """``factory(**options)``, with a bad option reported as a SpecError naming the teacher."""
    try:
        return factory(**options)
    except TypeError as exc:
        raise SpecError(f"teacher {name!r}: bad options {dict(options)!r}: {exc}") from None


class Policy:
    """A generating policy inside a worker: ``reset(seed)`` each episode, then ``act``."""

    def __init__(self, spec: PolicySpec, env: Any):
        self.spec = spec
        self.observation_space = env.observation_space
        self.action_space = env.action_space
        self._model = load_model(spec.path, spec.sha256) if spec.kind == "model" else None
        self._teacher: Any = None
        if spec.kind == "teacher":
            from tutelage.plugins import get_host  # the worker's own host, with the driver's local plugins

            self._teacher = build_teacher(get_host(spec.plugins).registry("teachers").get(spec.teacher),
                                          spec.teacher, spec.options)

    def reset(self, seed: int) -> None:
        if self.spec.kind == "random":
            self.action_space.seed(seed)
        elif self.spec.kind == "teacher":
            reset_policy(self._teacher, seed)

    def act(self, observation: Any, info: Mapping[str, Any]) -> Any:
        if self.spec.kind == "random":
            return self.action_space.sample()
        if self.spec.kind == "teacher":
            return self._teacher.act(observation, info)
        import gymnasium

        flat = gymnasium.spaces.flatten(self.observation_space, observation).astype(np.float32)
        return self._model(flat)
