"""int8 models: per-output-channel weight quantization and an int8 inference kernel.

>>> from tutelage.nn.quantize import quantize
>>> q = quantize(model)            # dense weights → int8, one scale per output unit
>>> q(x)                           # batch-1 or batch, like the float model
>>> q.save("student.int8.safetensors", lineage={...})
>>> nn.load("student.int8.safetensors")   # gives back a QuantizedModel

Scheme: symmetric, per output channel. For the weight column of output ``j``,
``scale[j] = max|W[:, j]| / 127`` and ``q[:, j] = round(W[:, j] / scale[j])``
in [-127, 127], so every weight is recovered within ``scale[j] / 2``. Biases,
layer-norm parameters and activations stay float32 (weight-only
quantization): the int8 kernel widens the weights inside the product.

The first dense layer reads raw observations, often on mixed scales (a
standardization folded into its weights leaves rows that differ by 100× or
more, and per-output scales would round the small rows to zero). Its rows are
equalized first: ``in_scale[i] = max|W[i, :]|``, the int8 weights stand for
``W[i, :] / in_scale[i]``, and the input is multiplied by ``in_scale`` before
the product (tensor ``"{i}.dense.in_scale"``; files without it load as before).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from tutelage._core.quant import Q_KINDS, QuantizedNetwork
from tutelage.errors import ModelFileError, NumericalError, SpecError
from tutelage.nn.model import Model
from tutelage.nn.serialize import _json_field, check_tensors, info_from_header, write_model_file

FORMAT = "tutelage-int8-1"
SCHEME = "int8 symmetric per-output-channel weights, float32 activations"
#: layers the int8 executor runs; the others (conv, embedding, pooling) are not quantized yet
SUPPORTED = set(Q_KINDS)


def quantize_weights(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(q, scale)`` for a dense weight stored (in, out): ``q`` is (in, out) int8, ``scale`` (out,) float32."""
    w = np.asarray(weight, dtype=np.float32)
    if w.ndim != 2:
        raise SpecError(f"dense weights must be 2-D (in, out), got shape {w.shape}")
    scale = (np.abs(w).max(axis=0) / np.float32(127.0)).astype(np.float32)
    scale[~(scale > 0)] = 1.0  # an all-zero (or subnormal) channel: any scale represents it
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    return q, scale


def dequantize_weights(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The float32 (in, out) weight that ``(q, scale)`` stands for."""
    return np.asarray(q, dtype=np.float32) * np.asarray(scale, dtype=np.float32)


class QuantizedModel(QuantizedNetwork):
    """A model whose dense layers hold int8 weights; ``model(x)`` like a :class:`tutelage.nn.Model`.

    ``tensors`` maps ``"{i}.dense.q"``, ``"{i}.dense.scale"``, ``"{i}.dense.bias"``,
    ``"{i}.layer_norm.gamma"``/``beta`` to arrays; ``info`` holds id, model_type,
    lineage, metadata and spec once saved or loaded.
    """

    def __init__(self, spec: dict[str, Any], tensors: dict[str, np.ndarray]):
        self.spec = spec
        self.tensors = tensors
        self.info: dict[str, Any] = {}
        shape_model = Model.from_spec(spec)  # shapes only; its θ is not used
        self.input_shape, self.output_shape = shape_model.input_shape, shape_model.output_shape
        self.n_params = shape_model.n_params
        ops = []
        for i, (layer, shape) in enumerate(zip(shape_model.layers, shape_model.shapes)):
            if layer.type not in SUPPORTED:
                raise SpecError(f"layers[{i}] ({layer.type}): int8 inference supports only {sorted(SUPPORTED)}")
            op: dict[str, Any] = {"kind": layer.type, "n": shape[-1]}
            if layer.type == "dense":
                if len(shape) != 1:
                    raise SpecError(f"layers[{i}] (dense): int8 inference needs a flat input, got shape {shape}")
                op.update(q=tensors[f"{i}.dense.q"], scale=tensors[f"{i}.dense.scale"],
                          bias=tensors[f"{i}.dense.bias"], in_scale=tensors.get(f"{i}.dense.in_scale"))
            elif layer.type == "layer_norm":
                op.update(gamma=tensors[f"{i}.layer_norm.gamma"], beta=tensors[f"{i}.layer_norm.beta"], eps=layer.eps)
            ops.append(op)
        super().__init__(ops, tuple(self.input_shape), tuple(self.output_shape))

    @property
    def id(self) -> str:
        """Content hash of the spec, the scheme and every tensor (16 hex digits)."""
        digest = hashlib.sha256(json.dumps([self.spec, SCHEME], sort_keys=True).encode())
        for name in sorted(self.tensors):
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(self.tensors[name]).tobytes())
        return digest.hexdigest()[:16]

    def dequantized(self) -> Model:
        """The float32 model these int8 weights stand for (to inspect the quantization error)."""
        model = Model.from_spec(self.spec)
        for i, layer in enumerate(model.layers):
            if layer.type == "dense":
                weight = dequantize_weights(self.tensors[f"{i}.dense.q"], self.tensors[f"{i}.dense.scale"])
                rows = self.tensors.get(f"{i}.dense.in_scale")
                layer.params["weight"][...] = weight if rows is None else weight * rows[:, None]
            for name, view in layer.params.items():
                key = f"{i}.{layer.type}.{name}"
                if key in self.tensors:
                    view[...] = self.tensors[key]
        return model

    def save(self, path: str | os.PathLike, *, model_type: str = "mlp", lineage: dict[str, Any] | None = None,
             metadata: dict[str, Any] | None = None) -> str:
        """Write the int8 model atomically as safetensors (int8 tensors); returns its id."""
        ident = self.id
        self.info = write_model_file(path, self.tensors, fmt=FORMAT, ident=ident, spec=self.spec,
                                     model_type=model_type, lineage=lineage, metadata=metadata, quantization=SCHEME)
        return ident

    def __repr__(self) -> str:
        return f"QuantizedModel(input_shape={self.input_shape}, {self.n_params:,} params, int8 weights)"


def input_scales(weight: np.ndarray) -> np.ndarray:
    """Each input row's largest weight magnitude (1 for an all-zero row): what :func:`quantize` divides rows by."""
    rows = np.abs(np.asarray(weight, dtype=np.float32)).max(axis=1)
    rows[~(rows > 0)] = 1.0
    return rows.astype(np.float32)


def quantize(model: Model, equalize_inputs: bool = True) -> QuantizedModel:
    """An int8 copy of ``model``: dense weights per output channel, the rest float32; with ``equalize_inputs``
    the first dense layer's rows are equalized first (see the module). A non-finite model is refused."""
    bad = int(np.count_nonzero(~np.isfinite(model.theta)))
    if bad:
        raise NumericalError(f"cannot quantize: the model has {bad} non-finite (NaN or inf) parameters")
    tensors: dict[str, np.ndarray] = {}
    first = next((i for i, layer in enumerate(model.layers) if layer.type == "dense"), None)
    for i, layer in enumerate(model.layers):  # QuantizedModel names the layers it cannot run
        if layer.type == "dense":
            weight = np.asarray(layer.params["weight"], dtype=np.float32)
            if equalize_inputs and i == first:
                tensors[f"{i}.dense.in_scale"] = input_scales(weight)
                weight = weight / tensors[f"{i}.dense.in_scale"][:, None]
            tensors[f"{i}.dense.q"], tensors[f"{i}.dense.scale"] = quantize_weights(weight)
            tensors[f"{i}.dense.bias"] = np.array(layer.params["bias"], dtype=np.float32)
        elif layer.type == "layer_norm":
            tensors[f"{i}.layer_norm.gamma"] = np.array(layer.params["gamma"], dtype=np.float32)
            tensors[f"{i}.layer_norm.beta"] = np.array(layer.params["beta"], dtype=np.float32)
    return QuantizedModel(model.spec, tensors)


def from_safetensors(path: Path, header: dict[str, str], tensors: dict[str, np.ndarray]) -> QuantizedModel:
    """Rebuild a :class:`QuantizedModel` from a file's header and tensors (``nn.load`` calls this)."""
    spec = _json_field(header, "spec", path)
    if header.get("quantization") != SCHEME:
        raise ModelFileError(f"{path}: metadata field 'quantization' is {header.get('quantization')!r}, expected {SCHEME!r}")
    try:
        equalized = any(name.endswith(".dense.in_scale") for name in tensors)  # files before it have none
        check_tensors(path, tensors, quantize(Model.from_spec(spec), equalize_inputs=equalized).tensors)
        model = QuantizedModel(spec, tensors)
    except (SpecError, KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: field 'spec' or tensors do not make an int8 model: {exc}") from None
    ident = header.get("id")
    if ident != model.id:
        raise ModelFileError(f"{path}: content does not match its id {ident!r} (corrupted or edited)")
    model.info = info_from_header(header, path, spec, quantization=SCHEME)
    return model

