"""Pieces the built-in model types share: activation and output layers by name."""
from __future__ import annotations

from tutelage import nn
from tutelage.errors import SpecError, unknown_name_message

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}
OUTPUTS = {None: None, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "softmax": nn.Softmax, "log_softmax": nn.LogSoftmax}


def activation_layer(name: str, where: str) -> nn.Layer:
    if name not in ACTIVATIONS:
        raise SpecError(unknown_name_message("activation", str(name), sorted(ACTIVATIONS), where))
    return ACTIVATIONS[name]()


def output_layers(name: str | None, where: str) -> list[nn.Layer]:
    if name not in OUTPUTS:
        raise SpecError(unknown_name_message("output activation", str(name), sorted(k for k in OUTPUTS if k), where))
    return [] if OUTPUTS[name] is None else [OUTPUTS[name]()]


def sizes(values, field: str, where: str) -> tuple[int, ...]:
    values = (values,) if isinstance(values, int) else tuple(values)
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
        raise SpecError(f"{where}: {field!r} must be positive integers, got {list(values)}")
    return values
