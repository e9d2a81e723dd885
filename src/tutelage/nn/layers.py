"""Layers: each knows its spec, its output shape, its parameters and the op it compiles to.

A layer holds views into the model's θ (``layer.params["weight"]``, also
``layer.weight``) once a :class:`~tutelage.nn.Model` is built from it. Dense,
Softmax, LogSoftmax and LayerNorm act on the last axis; Conv2d and MaxPool2d
on one ``(C, H, W)`` sample; Planes turns a flat image (plus extras) into one.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from tutelage.errors import SpecError, unknown_name_message

Shape = tuple[int, ...]


def _positive_int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise SpecError(f"field {field!r} must be a positive integer, got {value!r}")
    return int(value)


def _size(shape: Shape) -> int:
    return int(math.prod(shape))


class Layer:
    """Base class; subclasses set ``type`` and override what they need."""

    type: ClassVar[str]
    op_kind: ClassVar[str | None] = None  # element-wise layers compile to this op

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def config(self) -> dict[str, Any]:
        """The spec fields besides ``type``."""
        return {}

    def spec(self) -> dict[str, Any]:
        return {"type": self.type, **self.config()}

    def output_shape(self, shape: Shape) -> Shape:
        return shape

    def param_shapes(self, shape: Shape) -> dict[str, Shape]:
        return {}

    def init(self, shape: Shape, rng: np.random.Generator) -> None:
        """Fill ``self.params`` (views into θ) from ``rng``."""

    def op(self, shape: Shape, offsets: dict[str, int]) -> dict[str, Any] | None:
        """The op record for the executor (``None``: the layer only reshapes)."""
        size = _size(shape)
        return {"kind": self.op_kind, "in_size": size, "out_size": size}

    def __getattr__(self, name: str) -> np.ndarray:
        params = self.__dict__.get("params", {})
        if name in params:
            return params[name]
        raise AttributeError(name)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({fields})"


def _glorot(rng: np.random.Generator, shape: Shape, fan_in: int, fan_out: int) -> np.ndarray:
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)


class Dense(Layer):
    """``y = x·W + b`` on the last axis; W is stored (in, out)."""

    type = "dense"

    def __init__(self, units: int):
        super().__init__()
        self.units = _positive_int(units, "units")

    def config(self) -> dict[str, Any]:
        return {"units": self.units}

    def output_shape(self, shape: Shape) -> Shape:
        return (*shape[:-1], self.units)

    def param_shapes(self, shape: Shape) -> dict[str, Shape]:
        return {"weight": (shape[-1], self.units), "bias": (self.units,)}

    def init(self, shape: Shape, rng: np.random.Generator) -> None:
        self.params["weight"][...] = _glorot(rng, self.params["weight"].shape, shape[-1], self.units)
        self.params["bias"][...] = 0.0

    def op(self, shape: Shape, offsets: dict[str, int]) -> dict[str, Any]:
        return {"kind": "dense", "rows": _size(shape[:-1]), "n_in": shape[-1], "n_out": self.units,
                "in_size": _size(shape), "out_size": _size(shape[:-1]) * self.units,
                "w": offsets["weight"], "b": offsets["bias"]}


class ReLU(Layer):
    type = op_kind = "relu"


class Tanh(Layer):
    type = op_kind = "tanh"


class Sigmoid(Layer):
    type = op_kind = "sigmoid"


class GELU(Layer):
    """Exact GELU, ``x·Φ(x)``."""

    type = op_kind = "gelu"


class _RowWise(Layer):
    """An op over the last axis."""

    def op(self, shape: Shape, offsets: dict[str, int]) -> dict[str, Any]:
        return {"kind": self.op_kind, "rows": _size(shape[:-1]), "n_in": shape[-1], "n_out": shape[-1],
                "in_size": _size(shape), "out_size": _size(shape)}


class Softmax(_RowWise):
    type = op_kind = "softmax"


class LogSoftmax(_RowWise):
    type = op_kind = "log_softmax"


class LayerNorm(_RowWise):
    """Normalize the last axis, then scale by ``gamma`` and shift by ``beta``."""

    type = op_kind = "layer_norm"

    def __init__(self, eps: float = 1e-5):
        super().__init__()
        if not isinstance(eps, (int, float)) or not eps > 0:
            raise SpecError(f"field 'eps' must be a positive number, got {eps!r}")
        self.eps = float(eps)

    def config(self) -> dict[str, Any]:
        return {"eps": self.eps}

    def param_shapes(self, shape: Shape) -> dict[str, Shape]:
        return {"gamma": (shape[-1],), "beta": (shape[-1],)}

    def init(self, shape: Shape, rng: np.random.Generator) -> None:
        self.params["gamma"][...] = 1.0
        self.params["beta"][...] = 0.0

    def op(self, shape: Shape, offsets: dict[str, int]) -> dict[str, Any]:
        return {**super().op(shape, offsets), "w": offsets["gamma"], "b": offsets["beta"], "p": self.eps,
                "aux_len": 2 * _size(shape[:-1])}


class Embedding(Layer):
    """Integer ids (stored as floats) → rows of a ``(vocab, dim)`` table; adds a last axis."""

    type = "embedding"

    def __init__(self, vocab: int, dim: int):
        super().__init__()
        self.vocab = _positive_int(vocab, "vocab")
        self.dim = _positive_int(dim, "dim")

    def config(self) -> dict[str, Any]:
        return {"vocab": self.vocab, "dim": self.dim}

    def output_shape(self, shape: Shape) -> Shape:
        return (*shape, self.dim)

    def param_shapes(self, shape: Shape) -> dict[str, Shape]:
        return {"weight": (self.vocab, self.dim)}

    def init(self, shape: Shape, rng: np.random.Generator) -> None:
        self.params["weight"][...] = rng.standard_normal(self.params["weight"].shape)

    def op(self, shape: Shape, offsets: dict[str, int]) -> dict[str, Any]:
        return {"kind": "embedding", "rows": _size(shape), "n_in": self.vocab, "n_out": self.dim,
                "in_size": _size(shape), "out_size": _size(shape) * self.dim, "w": offsets["weight"]}


def _chw(shape: Shape, layer: str) -> Shape:
    if len(shape) != 3:
        raise SpecError(f"{layer} needs (channels, height, width) input, got shape {list(shape)}")
    return shape


class Conv2d(Layer):
    """2-D convolution over ``(C, H, W)`` by im2col + GEMM; weight ``(out, C, k, k)``."""

    type = "conv2d"

    def __init__(self, channels: int, kernel: int = 3, stride: int = 1, padding: int = 0):
        super().__init__()
        self.channels = _positive_int(channels, "channels")
        self.kernel = _positive_int(kernel, "kernel")
        self.stride = _positive_int(stride, "stride")
        if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
            raise SpecError(f"field 'padding' must be a non-negative integer, got {padding!r}")
        self.padding = padding

    def config(self) -> dict[str, Any]:
        return {"channels": self.channels, "kernel": self.kernel, "stride": self.stride, "padding": self.padding}

    def output_shape(self, shape: Shape) -> Shape:
        c, h, w = _chw(shape, "conv2d")
        oh = (h + 2 * self.padding - self.kernel) // self.stride + 1
        ow = (w + 2 * self.padding - self.kernel) // self.stride + 1
        if oh < 1 or ow < 1:
            raise SpecError(f"conv2d kernel {self.kernel} does not fit input {list(shape)} with padding {self.padding}")
        return (self.channels, oh, ow)

    def param_shapes(self, shape: Shape) -> dict[str, Shape]:
        return {"weight": (self.channels, shape[0], self.kernel, self.kernel), "bias": (self.channels,)}

    def init(self, shape: Shape, rng: np.random.Generator) -> None:
        fan_in = shape[0] * self.kernel**2
        fan_out = self.channels * self.kernel**2
        self.params["weight"][...] = _glorot(rng, self.params["weight"].shape, fan_in, fan_out)
        self.params["bias"][...] = 0.0

    def op(self, shape: Shape, offsets: dict[str, int]) -> dict[str, Any]:
        c, h, w = shape
        out = self.output_shape(shape)
        columns = c * self.kernel**2 * out[1] * out[2]
        return {"kind": "conv2d", "in_size": _size(shape), "out_size": _size(out), "w": offsets["weight"],
                "b": offsets["bias"], "c": c, "h": h, "wd": w, "oc": self.channels, "k": self.kernel,
                "stride": self.stride, "pad": self.padding, "aux_len": columns, "scratch": columns}


class MaxPool2d(Layer):
    """Max over non-overlapping ``size × size`` windows of ``(C, H, W)``."""

    type = "maxpool2d"

    def __init__(self, size: int = 2):
        super().__init__()
        self.size = _positive_int(size, "size")

    def config(self) -> dict[str, Any]:
        return {"size": self.size}

    def output_shape(self, shape: Shape) -> Shape:
        c, h, w = _chw(shape, "maxpool2d")
        if h < self.size or w < self.size:
            raise SpecError(f"maxpool2d window {self.size} is larger than input {list(shape)}")
        return (c, h // self.size, w // self.size)

    def op(self, shape: Shape, offsets: dict[str, int]) -> dict[str, Any]:
        c, h, w = shape
        return {"kind": "maxpool2d", "in_size": _size(shape), "out_size": _size(self.output_shape(shape)),
                "c": c, "h": h, "wd": w, "k": self.size}


class Planes(Layer):
    """A flat input ``[image (C·H·W), extras (k)]`` as ``(C + k, H, W)`` planes: the image times ``scale``,
    then each extra (a speed, say) as a constant plane, so a convolutional network reads both."""

    type = "planes"

    def __init__(self, image: Any, scale: float = 1.0):
        super().__init__()
        if not isinstance(image, (list, tuple)) or len(image) != 3:
            raise SpecError(f"field 'image' must be [channels, height, width], got {image!r}")
        self.image = tuple(_positive_int(d, "image") for d in image)
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale):
            raise SpecError(f"field 'scale' must be a finite number, got {scale!r}")
        self.scale = float(scale)

    def config(self) -> dict[str, Any]:
        return {"image": list(self.image), "scale": self.scale}

    def output_shape(self, shape: Shape) -> Shape:
        c, h, w = self.image
        if len(shape) != 1 or shape[0] < c * h * w:
            raise SpecError(f"planes needs a flat input of at least {c * h * w} values (image {list(self.image)}), "
                            f"got shape {list(shape)}")
        return (c + shape[0] - c * h * w, h, w)

    def op(self, shape: Shape, offsets: dict[str, int]) -> dict[str, Any]:
        c, h, w = self.image
        return {"kind": "planes", "in_size": shape[0], "out_size": _size(self.output_shape(shape)),
                "c": c, "h": h, "wd": w, "p": self.scale}


class Flatten(Layer):
    """Collapse a sample to one axis (no data moves)."""

    type = "flatten"

    def output_shape(self, shape: Shape) -> Shape:
        return (_size(shape),)

    def op(self, shape: Shape, offsets: dict[str, int]) -> None:
        return None


class Dropout(Layer):
    """Inverted dropout while training (seeded by the model); the identity at inference."""

    type = op_kind = "dropout"

    def __init__(self, rate: float = 0.5):
        super().__init__()
        if not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
            raise SpecError(f"field 'rate' must be in [0, 1), got {rate!r}")
        self.rate = float(rate)

    def config(self) -> dict[str, Any]:
        return {"rate": self.rate}

    def op(self, shape: Shape, offsets: dict[str, int]) -> dict[str, Any]:
        return {**super().op(shape, offsets), "p": self.rate, "aux_len": _size(shape)}


class PluginLayer(Layer):
    """Base of a layer kind a plugin contributes (hook ``tutelage_layer_kinds``): numpy on a batch.

    A subclass sets ``type`` and defines :meth:`forward` and :meth:`backward`
    over ``(n, *shape)`` float32 batches; ``self.params`` and ``self.grads``
    are views into the model's θ and gradient. The executor calls them from
    C for this layer only, so the built-in ops around it keep their speed.
    """

    op_kind = "python"

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        """``y`` for the batch ``x``."""
        raise NotImplementedError

    def backward(self, x: np.ndarray, y: np.ndarray, dy: np.ndarray) -> np.ndarray:
        """Add the parameter gradients into ``self.grads[name]`` and return ``dx``."""
        raise NotImplementedError

    def op(self, shape: Shape, offsets: dict[str, int]) -> dict[str, Any]:
        self._shapes = (shape, self.output_shape(shape))
        return {**super().op(shape, offsets), "out_size": _size(self._shapes[1]), "layer": self}

    def run_forward(self, x: np.ndarray, y: np.ndarray, n: int, training: bool) -> None:
        """The executor's call: flat buffers in, ``y`` filled in place."""
        shape, out = self._shapes
        y.reshape(n, *out)[...] = self.forward(x.reshape(n, *shape), training)

    def run_backward(self, x: np.ndarray, y: np.ndarray, dy: np.ndarray, dx: np.ndarray | None, n: int) -> None:
        shape, out = self._shapes
        grad = self.backward(x.reshape(n, *shape), y.reshape(n, *out), dy.reshape(n, *out))
        if dx is not None:
            dx.reshape(n, *shape)[...] = grad


def layer_kind_problem(name: str, obj: Any) -> str | None:
    """What is wrong with a contributed layer kind, or None (checked when plugins load)."""
    if not (isinstance(obj, type) and issubclass(obj, Layer)):
        return f"must be a subclass of tutelage.nn.Layer, got {type(obj).__name__}"
    if getattr(obj, "type", None) != name:
        return f"has type {getattr(obj, 'type', None)!r}; it must equal its name"
    if LAYER_TYPES.get(name) is obj:
        return None
    if not issubclass(obj, PluginLayer):
        return "must subclass tutelage.nn.PluginLayer (only built-ins compile to core ops)"
    missing = [m for m in ("forward", "backward") if getattr(obj, m) is getattr(PluginLayer, m)]
    return f"does not define {', '.join(missing)}()" if missing else None


LAYER_TYPES: dict[str, type[Layer]] = {
    cls.type: cls
    for cls in (Dense, ReLU, Tanh, Sigmoid, GELU, Softmax, LogSoftmax, LayerNorm, Embedding, Conv2d, MaxPool2d,
                Flatten, Dropout, Planes)
}


#: plugin layer kinds made known to this whole process (see :func:`register_layer_kinds`)
PLUGIN_KINDS: dict[str, type[Layer]] = {}


def register_layer_kinds(kinds: Mapping[str, type[Layer]]) -> None:
    """Make plugin layer kinds known to every model built or loaded in this process, without ``kinds=``:
    the plugin host does this for the plugins it loads, as it registers their worlds with Gymnasium."""
    PLUGIN_KINDS.update(kinds)


def known_kinds(kinds: Mapping[str, type[Layer]] | None = None) -> dict[str, type[Layer]]:
    """The plugin layer kinds a build or load may use: those registered in this process, then ``kinds``."""
    return {**PLUGIN_KINDS, **(kinds or {})}


def layer_kind(kind: Any, kinds: Mapping[str, type[Layer]] | None = None, where: str = "layer") -> type[Layer]:
    """The class of layer type ``kind``: a built-in, or one of ``kinds`` (e.g. ``host.registry("layer_kinds")``)
    or of the kinds registered in this process."""
    kinds = known_kinds(kinds)
    if isinstance(kind, str) and kind in LAYER_TYPES:
        return LAYER_TYPES[kind]
    if isinstance(kind, str) and kind in kinds:
        return kinds[kind]
    known = sorted({*LAYER_TYPES, *kinds})
    raise SpecError(unknown_name_message("layer type", str(kind), known, where)
                    + "; a plugin's layer kind needs the plugin loaded and kinds=host.registry('layer_kinds')")


def layer_from_spec(spec: Any, where: str = "layer", kinds: Mapping[str, type[Layer]] | None = None) -> Layer:
    """Build a layer from ``{"type": ..., **fields}``; bad specs raise :class:`SpecError` naming ``where``."""
    if not isinstance(spec, Mapping) or "type" not in spec:
        raise SpecError(f"{where}: must be a mapping with a 'type' field, got {spec!r}")
    kind = spec["type"]
    cls = layer_kind(kind, kinds, where)
    fields = {k: v for k, v in spec.items() if k != "type"}
    try:
        return cls(**fields)
    except TypeError as exc:
        raise SpecError(f"{where} ({kind}): {exc}".replace("__init__() ", "")) from None
    except SpecError as exc:
        raise SpecError(f"{where} ({kind}): {exc}") from None
