"""Save and load models as safetensors: θ by parameter, spec, model type and lineage in the metadata.

The file's id is a content hash of the spec and θ, recorded in the metadata
and checked on load, so a flipped byte is caught even where the container is
still well formed. Writes are atomic; pickle is never used.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save as st_save

from tutelage import fileio
from tutelage.errors import ModelFileError, SpecError
from tutelage.nn.model import Model

FORMAT = "tutelage-model-1"
LINEAGE_FIELDS = ("parent", "method", "dataset", "teacher")
#: other model formats in safetensors files, by their ``format`` field: ``"module:reader(path, header, tensors)"``
FORMAT_READERS = {"tutelage-int8-1": "tutelage.nn.quantize:from_safetensors",
                  "tutelage-generative-1": "tutelage.generative:from_safetensors"}


def model_id(model: Model) -> str:
    """Content hash of the spec and θ (16 hex digits)."""
    digest = hashlib.sha256(json.dumps(model.spec, sort_keys=True).encode())
    digest.update(np.ascontiguousarray(model.theta, dtype="<f4").tobytes())
    return digest.hexdigest()[:16]


def _tensor_names(model: Model) -> dict[str, np.ndarray]:
    return {f"{i}.{layer.type}.{name}": view for i, layer in enumerate(model.layers) for name, view in layer.params.items()}


def save(model: Model, path: str | os.PathLike, *, model_type: str = "mlp", lineage: dict[str, Any] | None = None,
         metadata: dict[str, Any] | None = None) -> str:
    """Write ``model`` to ``path`` atomically; returns its id."""
    ident = model_id(model)
    write_model_file(path, _tensor_names(model), fmt=FORMAT, ident=ident, spec=model.spec,
                     model_type=model_type, lineage=lineage, metadata=metadata)
    return ident


def write_model_file(path: str | os.PathLike, tensors: dict[str, np.ndarray], *, fmt: str, ident: str,
                     spec: dict[str, Any], model_type: str, lineage: dict[str, Any] | None,
                     metadata: dict[str, Any] | None, **extra: str) -> dict[str, Any]:
    """Write tensors and the model header atomically as safetensors; return the model's ``info``."""
    lineage = dict(lineage or {})
    unknown = set(lineage) - set(LINEAGE_FIELDS)
    if unknown:
        raise ValueError(f"lineage fields must be among {LINEAGE_FIELDS}, got {sorted(unknown)}")
    header = {
        "format": fmt,
        "id": ident,
        "model_type": model_type,
        "spec": json.dumps(spec, sort_keys=True),
        "lineage": json.dumps(lineage, sort_keys=True),
        "metadata": json.dumps(metadata or {}, sort_keys=True, default=str),
        **extra,
    }
    fileio.write_bytes(path, st_save({k: np.ascontiguousarray(v) for k, v in tensors.items()}, metadata=header))
    return {"id": ident, "model_type": model_type, "lineage": lineage, "metadata": dict(metadata or {}),
            "spec": spec, **extra}


def info_from_header(header: dict[str, str], path: Path, spec: dict[str, Any], **extra: str) -> dict[str, Any]:
    """A loaded model's ``info`` from its file header (JSON fields checked, naming the file)."""
    return {
        "id": header.get("id"),
        "model_type": header.get("model_type", ""),
        "lineage": _json_field(header, "lineage", path),
        "metadata": _json_field(header, "metadata", path),
        "spec": spec,
        **extra,
    }


def _json_field(header: dict[str, str], field: str, path: Path) -> Any:
    try:
        return json.loads(header[field])
    except KeyError:
        raise ModelFileError(f"{path}: metadata field {field!r} is missing; not a tutelage model file") from None
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: metadata field {field!r} is not valid JSON ({exc})") from None


def check_tensors(path: Path, tensors: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    """Raise :class:`ModelFileError` unless ``tensors`` has ``expected``'s names, dtypes and shapes."""
    if set(tensors) != set(expected):
        missing, extra = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
        raise ModelFileError(f"{path}: tensors do not match the spec (missing {missing}, unexpected {extra})")
    for name, want in expected.items():
        tensor = tensors[name]
        if tensor.dtype != want.dtype or tensor.shape != want.shape:
            raise ModelFileError(f"{path}: tensor {name!r} is {tensor.dtype}{list(tensor.shape)}, "
                                 f"the spec needs {want.dtype}{list(want.shape)}")


def load(path: str | os.PathLike) -> Model:
    """Read a model saved by :func:`save`; ``model.info`` holds id, model_type, lineage, metadata, spec.

    A missing, truncated, corrupted or mismatched file raises :class:`ModelFileError` naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        with safe_open(str(path), framework="numpy") as handle:
            header = dict(handle.metadata() or {})
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except Exception as exc:  # safetensors reports header and length errors as several types
        raise ModelFileError(f"{path}: not a readable safetensors file (truncated or corrupted?): {exc}") from None
    if header.get("format") in FORMAT_READERS:
        module, _, reader = FORMAT_READERS[header["format"]].partition(":")
        return getattr(importlib.import_module(module), reader)(path, header, tensors)
    if header.get("format") != FORMAT:
        raise ModelFileError(f"{path}: metadata field 'format' is {header.get('format')!r}, expected {FORMAT!r}")
    spec = _json_field(header, "spec", path)
    try:
        model = Model.from_spec(spec)
    except SpecError as exc:
        raise ModelFileError(f"{path}: field 'spec': {exc}") from None
    expected = _tensor_names(model)
    check_tensors(path, tensors, expected)
    for name, view in expected.items():
        view[...] = tensors[name]
    ident = header.get("id")
    if ident != model_id(model):
        raise ModelFileError(f"{path}: content does not match its id {ident!r} (corrupted or edited)")
    model.info = info_from_header(header, path, spec)
    return model
