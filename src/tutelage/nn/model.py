"""Models: a stack of layers over one contiguous float32 θ, run by the Cython executor."""
from __future__ import annotations

import copy as _copy
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from tutelage._core.network import Network
from tutelage.errors import SpecError
from tutelage.nn.layers import LAYER_TYPES, Layer, Shape, layer_from_spec


def _input_shape(value: Any) -> Shape:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value,)
    if (
        not isinstance(value, (list, tuple))
        or not value
        or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0 for d in value)
    ):
        raise SpecError(f"field 'input_shape' must be a non-empty list of positive integers, got {value!r}")
    return tuple(int(d) for d in value)


class Model(Network):
    """``y = f(x, θ)``: ``model(x)`` for one sample or a batch; ``forward``/``backward`` for training.

    ``theta`` and ``grad`` are contiguous float32 vectors; each layer's
    parameters are views into them. The same ``seed`` gives the same θ.
    ``backward`` reads the input array of the last ``forward`` (not copied).
    A model owns its workspaces: give each thread its own :meth:`copy`.
    Models pickle (spec, θ, info) so process pools and Ray can ship them;
    files are written with :func:`tutelage.nn.save`, never pickled.
    ``kinds`` maps names to layer kinds from plugins (``host.registry("layer_kinds")``);
    layer instances of a plugin kind bring their own.
    """

    def __init__(self, layers: Iterable[Layer | Mapping[str, Any]], input_shape: Any, *, seed: int = 0,
                 kinds: Mapping[str, type[Layer]] | None = None):
        layers = list(layers)
        kinds = {**(kinds or {}), **{l.type: type(l) for l in layers if isinstance(l, Layer)}}
        specs = [layer.spec() if isinstance(layer, Layer) else layer for layer in layers]
        self.layers = [layer_from_spec(spec, f"layers[{i}]", kinds) for i, spec in enumerate(specs)]
        #: the plugin layer kinds this model uses, by name
        self.kinds = {l.type: type(l) for l in self.layers if LAYER_TYPES.get(l.type) is not type(l)}
        self.input_shape = _input_shape(input_shape)
        self.seed = int(seed)
        self.info: dict[str, Any] = {}
        shapes, layouts, offset = [self.input_shape], [], 0
        for i, layer in enumerate(self.layers):
            try:
                out = layer.output_shape(shapes[-1])
            except SpecError as exc:
                raise SpecError(f"layers[{i}] ({layer.type}): {exc}") from None
            layout = {}
            for name, shape in layer.param_shapes(shapes[-1]).items():
                layout[name] = (offset, shape)
                offset += math.prod(shape)
            shapes.append(out)
            layouts.append(layout)
        theta = np.zeros(offset, dtype=np.float32)
        grad = np.zeros(offset, dtype=np.float32)
        rng = np.random.default_rng(self.seed)
        ops = []
        for layer, shape, layout in zip(self.layers, shapes, layouts):
            layer.params = {name: theta[o:o + math.prod(s)].reshape(s) for name, (o, s) in layout.items()}
            layer.grads = {name: grad[o:o + math.prod(s)].reshape(s) for name, (o, s) in layout.items()}
            layer.init(shape, rng)
            op = layer.op(shape, {name: o for name, (o, _) in layout.items()})
            if op is not None:
                ops.append(op)
        self.shapes = shapes
        self.output_shape = shapes[-1]
        self._compile(theta, grad, ops, self.input_shape, self.output_shape, self.seed)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], *, seed: int = 0,
                  kinds: Mapping[str, type[Layer]] | None = None) -> Model:
        """Build from ``{"input_shape": [...], "layers": [{"type": ...}, ...]}`` (JSON-safe)."""
        if not isinstance(spec, Mapping):
            raise SpecError(f"model spec must be a mapping, got {type(spec).__name__}")
        missing = {"input_shape", "layers"} - set(spec)
        if missing:
            raise SpecError(f"model spec is missing field(s) {sorted(missing)}")
        if not isinstance(spec["layers"], list) or not spec["layers"]:
            raise SpecError("field 'layers' must be a non-empty list of layer specs")
        return cls(spec["layers"], spec["input_shape"], seed=seed, kinds=kinds)

    @property
    def spec(self) -> dict[str, Any]:
        return {"input_shape": list(self.input_shape), "layers": [layer.spec() for layer in self.layers]}

    @property
    def n_params(self) -> int:
        return int(self.theta.size)

    @property
    def output_size(self) -> int:
        return int(math.prod(self.output_shape))

    def copy(self) -> Model:
        """An independent model with the same spec, θ and info (gradient zeroed)."""
        return _rebuild(type(self), self.spec, self.seed, self.theta.tobytes(), _copy.deepcopy(self.info), self.kinds)

    def __reduce__(self):
        return _rebuild, (type(self), self.spec, self.seed, self.theta.tobytes(), self.info, self.kinds)

    def __repr__(self) -> str:
        chain = " → ".join(repr(layer) for layer in self.layers)
        return f"Model(input_shape={self.input_shape}: {chain}; {self.n_params:,} params)"


def _rebuild(cls: type[Model], spec: dict[str, Any], seed: int, theta: bytes, info: dict[str, Any],
             kinds: Mapping[str, type[Layer]] | None = None) -> Model:
    model = cls.from_spec(spec, seed=seed, kinds=kinds)
    model.theta[:] = np.frombuffer(theta, dtype=np.float32)
    model.info = info
    return model


#: ``Sequential([...], input_shape=..., seed=...)`` is a :class:`Model`.
Sequential = Model
