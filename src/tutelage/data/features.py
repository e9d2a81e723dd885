"""The columns of a dataset, derived from a world's spaces: Arrow schema and LeRobot-style features.

Array observations become ``observation.state``; a ``Dict`` observation gives
one ``observation.<key>`` column per entry (nested keys joined with dots).
Arrays are stored flattened in fixed-size list columns of float32 (uint8
for uint8 boxes such as camera frames: a quarter of the bytes); the
original shape is kept in the features. Discrete spaces are int64 scalars.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from gymnasium import spaces

from tutelage.errors import SpecError

IMAGE_COLUMN = "observation.images.rgb"
#: each frame's synthetic depth: 0 for ground truth, k for frames a model trained on depth k − 1 data made
DEPTH_COLUMN = "synthetic_depth"


@dataclass(frozen=True)
class Column:
    """One array-valued column: its name, Arrow type and the shape of one value."""

    name: str
    space: spaces.Space
    shape: tuple[int, ...]
    discrete: bool

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def dtype(self) -> str:
        """The stored item type: int64 (discrete), uint8 (a uint8 box) or float32."""
        if self.discrete:
            return "int64"
        return "uint8" if np.dtype(self.space.dtype) == np.uint8 else "float32"

    @property
    def arrow_type(self) -> pa.DataType:
        if self.discrete:
            return pa.int64()
        return pa.list_(pa.from_numpy_dtype(np.dtype(self.dtype)), self.size)

    def feature(self) -> dict[str, Any]:
        return {"dtype": self.dtype, "shape": list(self.shape) or [1], "names": None}

    def encode(self, values: list[Any]) -> pa.Array:
        """Arrow array of ``values`` (one per frame)."""
        if self.discrete:
            return pa.array(np.asarray(values, dtype=np.int64))
        flat = np.asarray(values, dtype=self.dtype).reshape(len(values), self.size)
        return pa.FixedSizeListArray.from_arrays(pa.array(flat.ravel()), self.size)


def space_columns(prefix: str, space: spaces.Space) -> list[Column]:
    """Columns for one space: ``prefix`` itself, or ``prefix.<key>`` for each entry of a Dict."""
    if isinstance(space, spaces.Dict):
        return [column for key, sub in space.spaces.items() for column in space_columns(f"{prefix}.{key}", sub)]
    if isinstance(space, spaces.Box):
        return [Column(prefix, space, tuple(space.shape), False)]
    if isinstance(space, spaces.Discrete):
        return [Column(prefix, space, (), True)]
    raise SpecError(f"{prefix}: unsupported space {space!r} (use Box, Discrete or a Dict of them)")


def split_value(prefix: str, space: spaces.Space, value: Any) -> dict[str, Any]:
    """``{column name: value}`` for one observation or action, matching :func:`space_columns`."""
    if isinstance(space, spaces.Dict):
        out: dict[str, Any] = {}
        for key, sub in space.spaces.items():
            out.update(split_value(f"{prefix}.{key}", sub, value[key]))
        return out
    return {prefix: value}


def observation_prefix(space: spaces.Space) -> str:
    return "observation" if isinstance(space, spaces.Dict) else "observation.state"


def _scalar_type(value: Any) -> pa.DataType | None:
    if isinstance(value, (bool, np.bool_)):
        return pa.bool_()
    if isinstance(value, (int, float, np.integer, np.floating)):
        return pa.float64()
    if isinstance(value, str):
        return pa.string()
    return None


def value_type(value: Any) -> pa.DataType:
    """Arrow type for a scenario value: bool, float64, string, a list of those, or JSON text."""
    scalar = _scalar_type(value)
    if scalar is not None:
        return scalar
    if isinstance(value, (list, tuple)):
        inner = {_scalar_type(item) for item in value}
        if len(inner) == 1 and None not in inner:
            return pa.list_(inner.pop())
        if not value:
            return pa.list_(pa.string())
    return pa.string()  # anything else is stored as JSON text


def encode_value(value: Any, arrow_type: pa.DataType) -> Any:
    if value is None:
        return None
    if arrow_type == pa.string() and not isinstance(value, str):
        return json.dumps(value, sort_keys=True, default=json_default)
    if arrow_type == pa.float64():
        return float(value)
    if arrow_type == pa.bool_():
        return bool(value)
    if pa.types.is_list(arrow_type):
        return [encode_value(item, arrow_type.value_type) for item in value]
    return value


def json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a dataset")


def scalar_info_keys(info: Mapping[str, Any]) -> dict[str, pa.DataType]:
    """The per-step ``info`` entries that are plain numbers or flags, with their Arrow type."""
    keys = {}
    for key, value in info.items():
        arrow_type = _scalar_type(value)
        if arrow_type is not None and arrow_type != pa.string():
            keys[key] = arrow_type
    return dict(sorted(keys.items()))


@dataclass
class Features:
    """Every column of a dataset and how to build it."""

    observations: list[Column]
    action: Column
    observation_prefix: str
    info_keys: dict[str, pa.DataType] = field(default_factory=dict)
    scenario_keys: dict[str, pa.DataType] = field(default_factory=dict)
    camera: bool = False

    @classmethod
    def from_spaces(cls, observation_space: spaces.Space, action_space: spaces.Space, *,
                    info: Mapping[str, Any] | None = None, scenario: Mapping[str, Any] | None = None,
                    camera: bool = False) -> Features:
        if isinstance(action_space, spaces.Dict):
            raise SpecError("action: Dict action spaces are not supported")
        (action,) = space_columns("action", action_space)
        return cls(
            observations=space_columns(observation_prefix(observation_space), observation_space),
            action=action,
            observation_prefix=observation_prefix(observation_space),
            info_keys=scalar_info_keys(info or {}),
            scenario_keys={key: value_type(value) for key, value in sorted((scenario or {}).items())},
            camera=camera,
        )

    def schema(self) -> pa.Schema:
        fields = [
            pa.field("episode_index", pa.int64()),
            pa.field("frame_index", pa.int64()),
            pa.field("index", pa.int64()),
            pa.field("timestamp", pa.float32()),
        ]
        fields += [pa.field(column.name, column.arrow_type) for column in self.observations]
        if self.camera:
            fields.append(pa.field(IMAGE_COLUMN, pa.binary()))
        fields += [
            pa.field("action", self.action.arrow_type),
            pa.field("reward", pa.float32()),
            pa.field("terminated", pa.bool_()),
            pa.field("truncated", pa.bool_()),
            pa.field(DEPTH_COLUMN, pa.int64()),
        ]
        fields += [pa.field(f"info.{key}", arrow_type) for key, arrow_type in self.info_keys.items()]
        fields += [pa.field(f"scenario.{key}", arrow_type) for key, arrow_type in self.scenario_keys.items()]
        return pa.schema(fields)

    def describe(self, image_shape: tuple[int, ...] | None = None) -> dict[str, dict[str, Any]]:
        """LeRobot-style ``features``: dtype and shape of every column."""
        scalar = {"shape": [1], "names": None}
        out: dict[str, dict[str, Any]] = {
            "episode_index": {"dtype": "int64", **scalar},
            "frame_index": {"dtype": "int64", **scalar},
            "index": {"dtype": "int64", **scalar},
            "timestamp": {"dtype": "float32", **scalar},
        }
        for column in self.observations:
            out[column.name] = column.feature()
        if self.camera:
            out[IMAGE_COLUMN] = {"dtype": "png", "shape": list(image_shape or []), "names": ["height", "width", "channel"]}
        out["action"] = self.action.feature()
        out["reward"] = {"dtype": "float32", **scalar}
        out["terminated"] = {"dtype": "bool", **scalar}
        out["truncated"] = {"dtype": "bool", **scalar}
        out[DEPTH_COLUMN] = {"dtype": "int64", **scalar}
        for key, arrow_type in self.info_keys.items():
            out[f"info.{key}"] = {"dtype": str(arrow_type), **scalar}
        for key, arrow_type in self.scenario_keys.items():
            out[f"scenario.{key}"] = {"dtype": str(arrow_type), **scalar}
        return out
