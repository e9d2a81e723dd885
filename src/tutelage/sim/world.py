"""The base of every PyBullet world: one private physics client, scenarios at reset.

Subclasses build their bodies in :meth:`PyBulletEnv.build` from a scenario
dict and step with :meth:`PyBulletEnv.physics_step`. The simulation is
rebuilt from scratch at every reset (``resetSimulation``), so an episode
depends only on its seed (or scenario) and actions, never on earlier episodes.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import gymnasium
import numpy as np


def _import_pybullet_quietly() -> Any:
    """``import pybullet`` without the ``pybullet build time: ...`` line it writes to stderr (file descriptor 2,
    from C, so into progress bars and ``--quiet`` output); the descriptor points at /dev/null meanwhile."""
    import os
    import sys

    if "pybullet" in sys.modules:
        return sys.modules["pybullet"]
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real stderr: nothing to keep clean
        import pybullet as module

        return module
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            try:
                import pybullet as module
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)
    return module


pybullet = _import_pybullet_quietly()
import pybullet_data  # noqa: E402

from tutelage.sim.scenarios import ScenarioSampler


# PyBullet 3.2.7 keeps a reference to the vertex and index lists (and each
# vertex's list) passed to createVisualShape. Passing the same list objects every
# time, refilled in place, makes that harmless: nothing new is ever pinned.
_VERTEX_POOL: list[list[float]] = []
_VERTICES: list[list[float]] = []
_INDICES: list[int] = []


def mesh_visual_shape(client: int, vertices: np.ndarray, indices: np.ndarray, rgba: list[float]) -> int:
    """A visual-only triangle mesh (``vertices`` (N, 3), ``indices`` (M,)) without leaking memory."""
    while len(_VERTEX_POOL) < len(vertices):
        _VERTEX_POOL.append([0.0, 0.0, 0.0])
    for row, vertex in zip(_VERTEX_POOL, np.asarray(vertices, dtype=float).tolist()):
        row[:] = vertex
    _VERTICES[:] = _VERTEX_POOL[: len(vertices)]
    _INDICES[:] = np.asarray(indices, dtype=int).tolist()
    return pybullet.createVisualShape(
        pybullet.GEOM_MESH, vertices=_VERTICES, indices=_INDICES, rgbaColor=rgba, physicsClientId=client
    )


def jittered_colours(rng: np.random.Generator, jitter: float) -> Callable[[Sequence[float]], list[float]]:
    """A maker of RGBA colours: each RGB channel moved by up to ``jitter``, drawn from ``rng``."""

    def colour(rgb: Sequence[float]) -> list[float]:
        return [*np.clip(np.asarray(rgb) + rng.uniform(-jitter, jitter, 3), 0.0, 1.0).tolist(), 1.0]

    return colour


class Ragged(np.lib.mixins.NDArrayOperatorsMixin):
    """An ``info`` array whose length changes from episode to episode (actors, obstacles).

    Gymnasium's vector environments stack ``info`` arrays into one array per key,
    which needs equal shapes; they keep any other object as it is. This holder
    is such an object, while numpy sees the array (``np.asarray(r)``,
    arithmetic, ``len``, indexing, the array's attributes and methods).
    """

    __slots__ = ("array",)

    def __init__(self, array: Any):
        self.array = np.asarray(array)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.array if dtype is None else self.array.astype(dtype)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        inputs = tuple(x.array if isinstance(x, Ragged) else x for x in inputs)
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __eq__(self, other: Any) -> Any:
        """Two Ragged compare as wholes (a bool, as Gymnasium's checks expect); against anything
        else the comparison is elementwise, as for an array."""
        if isinstance(other, Ragged):
            numeric = self.array.dtype.kind in "fc" and other.array.dtype.kind in "fc"
            return bool(np.array_equal(self.array, other.array, equal_nan=numeric))
        return np.equal(self.array, other)

    def __ne__(self, other: Any) -> Any:
        result = self == other
        return not result if isinstance(result, bool) else np.logical_not(result)

    __hash__ = None  # type: ignore[assignment]

    def __getattr__(self, name: str) -> Any:  # shape, dtype, copy(), min(), ...: the array's
        if name == "array" or name.startswith("__"):  # numpy's protocols (__array_interface__...) go through __array__
            raise AttributeError(name)
        return getattr(self.array, name)

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, index: Any) -> Any:
        return self.array[index]

    def __iter__(self) -> Any:
        return iter(self.array)

    def __repr__(self) -> str:
        return f"Ragged({self.array!r})"


def ragged(table: dict[str, Any]) -> dict[str, Ragged]:
    """Every array of a per-actor ``info`` table as :class:`Ragged`."""
    return {key: Ragged(value) for key, value in table.items()}


class PyBulletEnv(gymnasium.Env):
    """A Gymnasium env that owns exactly one ``pybullet.DIRECT`` client.

    ``close()`` disconnects it (a second close does nothing). Class attributes:
    ``time_step`` (physics step, s) and ``substeps`` (physics steps per env step).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 25}
    time_step: ClassVar[float] = 0.01
    substeps: ClassVar[int] = 2

    def __init__(self, render_mode: str | None = None, scenarios: ScenarioSampler | None = None):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.render_mode = render_mode
        self.scenarios = scenarios if scenarios is not None else self.default_scenarios()
        self.client: int | None = None
        self.scenario: dict[str, Any] = {}
        self.frame = 0

    @classmethod
    def default_scenarios(cls) -> ScenarioSampler:
        """The world's declared scenario ranges and edge cases."""
        raise NotImplementedError

    # -- lifecycle -------------------------------------------------------------

    def connect(self) -> int:
        """Connect this env's own client (once) and return its id."""
        if self.client is None:
            self.client = pybullet.connect(pybullet.DIRECT)
            if self.client < 0:
                raise RuntimeError("could not start a PyBullet physics client")
        return self.client

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start an episode in ``options["scenario"]`` (a complete scenario dict, replayed exactly)
        or in one sampled from the seed, optionally as ``options["edge_case"]`` (``"ice + night"``).
        The info holds the scenario under ``"scenario"``."""
        super().reset(seed=seed)
        options = options or {}
        if "scenario" in options:
            self.scenario = self.scenarios.validate(options["scenario"], where="reset options: scenario")
        else:
            self.scenario = self.scenarios.sample(self.np_random, options.get("edge_case"))
        client = self.connect()
        pybullet.resetSimulation(physicsClientId=client)
        pybullet.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=client)
        pybullet.setGravity(0, 0, -9.81, physicsClientId=client)
        pybullet.setTimeStep(self.time_step, physicsClientId=client)
        self.frame = 0
        self.build(self.scenario)
        observation, info = self.observe()
        info["scenario"] = dict(self.scenario)
        return observation, info

    def build(self, scenario: dict[str, Any]) -> None:
        """Create the world's bodies for ``scenario`` in ``self.client``."""
        raise NotImplementedError

    def observe(self) -> tuple[Any, dict[str, Any]]:
        """The observation and the privileged info for the current state."""
        raise NotImplementedError

    def physics_step(self) -> None:
        """Advance the physics by one env step (``substeps`` physics steps)."""
        for _ in range(self.substeps):
            pybullet.stepSimulation(physicsClientId=self.client)

    def close(self) -> None:
        """Free the physics client; safe to call twice."""
        if self.client is not None:
            if pybullet.isConnected(physicsClientId=self.client):
                pybullet.disconnect(physicsClientId=self.client)
            self.client = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: pybullet may already be gone
            pass
