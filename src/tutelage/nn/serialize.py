"""Save and load models as safetensors: θ by parameter, spec, model type and lineage in the metadata.

The file's id is a content hash of the spec and θ, and ``checksum`` a hash of
every other metadata field (format, id, model type, lineage, metadata); both
are checked on load, so a flipped byte or an edited field is caught even
where the container is still well formed. Before anything is allocated, the
spec's parameter count is checked against the tensors the file holds, and
JSON fields nested deeper than :data:`MAX_JSON_DEPTH` are refused. Only
finite θ is saved or loaded. Writes are atomic; pickle is never used.

Files written before the checksum existed cannot be told apart from edited
ones, so they are refused with a message saying so.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import math
import os
from pathlib import Path
from collections.abc import Mapping
from typing import Any

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save as st_save

from tutelage import fileio
from tutelage.errors import ModelFileError, NumericalError, SpecError, os_reason
from tutelage.nn.layers import Layer, known_kinds, layer_from_spec
from tutelage.nn.model import Model, _input_shape

FORMAT = "tutelage-model-1"
LINEAGE_FIELDS = ("parent", "method", "dataset", "teacher", "data_depth", "collapse_guard")
#: other model formats in safetensors files, by their ``format`` field: ``"module:reader(path, header, tensors)"``
FORMAT_READERS = {"tutelage-int8-1": "tutelage.nn.quantize:from_safetensors",
                  "tutelage-generative-1": "tutelage.generative:from_safetensors"}
#: formats whose ``spec`` is a layer spec (``Model.from_spec``), so its size can be checked before allocating
LAYER_SPEC_FORMATS = (FORMAT, "tutelage-int8-1")
MAX_JSON_DEPTH = 32
MAX_ACTIVATION = 1 << 26  # values in one sample's largest intermediate shape
#: what a hostile spec may raise while its shapes are worked out
SPEC_FAILURES = (SpecError, TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError, RecursionError)


def model_id(model: Model) -> str:
    """Content hash of the spec and θ (16 hex digits)."""
    digest = hashlib.sha256(json.dumps(model.spec, sort_keys=True).encode())
    digest.update(np.ascontiguousarray(model.theta, dtype="<f4").tobytes())
    return digest.hexdigest()[:16]


def _tensor_names(model: Model) -> dict[str, np.ndarray]:
    return {f"{i}.{layer.type}.{name}": view for i, layer in enumerate(model.layers) for name, view in layer.params.items()}


def save(model: Model, path: str | os.PathLike, *, model_type: str = "mlp", lineage: dict[str, Any] | None = None,
         metadata: dict[str, Any] | None = None) -> str:
    """Write ``model`` to ``path`` atomically; returns its id. A model with a NaN or infinite parameter is refused."""
    bad = int(np.count_nonzero(~np.isfinite(model.theta)))
    if bad:
        raise NumericalError(f"{path}: not written: the model has {bad} non-finite (NaN or inf) parameters")
    ident = model_id(model)
    extra = {"layer_kinds": json.dumps(sorted(model.kinds))} if model.kinds else {}
    write_model_file(path, _tensor_names(model), fmt=FORMAT, ident=ident, spec=model.spec,
                     model_type=model_type, lineage=lineage, metadata=metadata, **extra)
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
    header["checksum"] = header_checksum(header)
    fileio.write_bytes(path, st_save({k: np.ascontiguousarray(v) for k, v in tensors.items()}, metadata=header))
    return {"id": ident, "model_type": model_type, "lineage": lineage, "metadata": dict(metadata or {}),
            "spec": spec, **extra}


def header_checksum(header: dict[str, str]) -> str:
    """``sha256:<hex>`` over every metadata field but ``checksum`` itself."""
    fields = {k: v for k, v in header.items() if k != "checksum"}
    return "sha256:" + hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


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
        value = json.loads(header[field])
    except KeyError:
        raise ModelFileError(f"{path}: metadata field {field!r} is missing; not a tutelage model file") from None
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: metadata field {field!r} is not valid JSON ({exc})") from None
    except RecursionError:
        value = None
    if value is None or fileio.nesting_depth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise ModelFileError(f"{path}: metadata field {field!r} is nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def spec_parameter_count(spec: Any, kinds: Mapping[str, type[Layer]] | None = None) -> int:
    """How many parameters ``Model.from_spec(spec)`` would allocate, worked out without allocating them.

    Raises :class:`SpecError` (or what a hostile spec makes the layers raise, see :data:`SPEC_FAILURES`).
    """
    if not isinstance(spec, dict) or not isinstance(spec.get("layers"), list):
        raise SpecError("must be a mapping with 'input_shape' and a list of 'layers'")
    shape, count = _input_shape(spec.get("input_shape")), 0
    for i, layer_spec in enumerate(spec["layers"]):
        layer = layer_from_spec(layer_spec, f"layers[{i}]", kinds)
        count += sum(math.prod(s) for s in layer.param_shapes(shape).values())
        shape = layer.output_shape(shape)
        if math.prod(shape) > MAX_ACTIVATION:
            raise SpecError(f"layers[{i}] ({layer.type}): output shape {list(shape)} exceeds {MAX_ACTIVATION} values")
    return count


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


def load(path: str | os.PathLike, *, kinds: Mapping[str, type[Layer]] | None = None) -> Model:
    """Read a model saved by :func:`save`; ``model.info`` holds id, model_type, lineage, metadata, spec.

    A missing, unreadable, truncated, corrupted, edited or mismatched file, or one
    holding a NaN or infinite value, raises :class:`ModelFileError` naming it; so
    does one using a plugin layer kind that ``kinds`` (``host.registry("layer_kinds")``) lacks.
    """
    path = Path(path)
    header, tensors, spec = read_model_file(path, kinds)
    if header["format"] in FORMAT_READERS:
        module, _, reader = FORMAT_READERS[header["format"]].partition(":")
        return getattr(importlib.import_module(module), reader)(path, header, tensors)
    try:
        model = Model.from_spec(spec, kinds=kinds)
    except SPEC_FAILURES as exc:
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


def read_model_file(path: Path, kinds: Mapping[str, type[Layer]] | None = None
                    ) -> tuple[dict[str, str], dict[str, np.ndarray], Any]:
    """``(header, tensors, spec)`` of a tutelage model file, checked before the tensors are read.

    The format, the header checksum, the JSON depth of the spec and its
    parameter count against the values the file holds are all checked first,
    so a hostile header cannot make this allocate more than the file's size.
    """
    try:
        fileio.open_regular(path).close()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such model file") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read the model file: {os_reason(exc)}") from None
    try:
        with safe_open(str(path), framework="numpy") as handle:
            header = dict(handle.metadata() or {})
            _check_header(path, header)
            _check_kinds(path, header, kinds)
            spec = _json_field(header, "spec", path)
            if header["format"] in LAYER_SPEC_FORMATS:
                held = sum(math.prod(handle.get_slice(name).get_shape()) for name in handle.keys())
                _check_size(path, spec, kinds, held)
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except ModelFileError:
        raise
    except Exception as exc:  # safetensors reports header and length errors as several types
        raise ModelFileError(f"{path}: not a readable safetensors file (truncated or corrupted?): {exc}") from None
    for name, tensor in tensors.items():
        if tensor.dtype.kind == "f" and not np.isfinite(tensor).all():
            raise ModelFileError(f"{path}: tensor {name!r} holds NaN or infinite values; refusing a non-finite model")
    return header, tensors, spec


def _check_kinds(path: Path, header: dict[str, str], kinds: Mapping[str, type[Layer]] | None) -> None:
    """Every plugin layer kind the file names must be among ``kinds``."""
    if "layer_kinds" not in header:
        return
    names = _json_field(header, "layer_kinds", path)
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ModelFileError(f"{path}: metadata field 'layer_kinds' must be a list of names, got {names!r}")
    missing = [name for name in names if name not in known_kinds(kinds)]
    if missing:
        raise ModelFileError(f"{path}: the model uses layer kind(s) {missing} from a plugin that is not loaded; "
                             "load the plugin that contributes them and pass kinds=host.registry('layer_kinds')")


def _check_size(path: Path, spec: Any, kinds: Mapping[str, type[Layer]] | None, held: int) -> None:
    """A layer spec may not ask for more parameters than the file holds values (checked before allocating)."""
    try:
        needed = spec_parameter_count(spec, kinds)
    except SPEC_FAILURES as exc:
        raise ModelFileError(f"{path}: field 'spec': {exc}") from None
    if needed > held:
        raise ModelFileError(f"{path}: field 'spec' needs {needed} parameters, the file holds {held} values")


def _check_header(path: Path, header: dict[str, str]) -> None:
    fmt = header.get("format")
    if fmt != FORMAT and fmt not in FORMAT_READERS:
        raise ModelFileError(f"{path}: metadata field 'format' is {fmt!r}, expected {FORMAT!r}")
    if "checksum" not in header:
        raise ModelFileError(f"{path}: metadata field 'checksum' is missing: the file was edited, or written by a "
                             "tutelage older than header checksums (its model type and lineage cannot be verified); "
                             "save the model again")
    if header["checksum"] != header_checksum(header):
        raise ModelFileError(f"{path}: metadata field 'checksum' does not match the metadata "
                             "(model_type, lineage, metadata or spec edited or corrupted)")
