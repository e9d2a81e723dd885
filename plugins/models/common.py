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


MAX_UNITS = 1 << 16  # units or channels of one layer
MAX_LAYERS = 64


def sizes(values, field: str, where: str) -> tuple[int, ...]:
    """Positive layer sizes (one int or a list), each at most ``MAX_UNITS``, at most ``MAX_LAYERS`` of them."""
    if isinstance(values, int) and not isinstance(values, bool):
        values = (values,)
    if not isinstance(values, (list, tuple)) or not 0 < len(values) <= MAX_LAYERS or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_UNITS for v in values):
        shown = list(values) if isinstance(values, (list, tuple)) else values
        raise SpecError(f"{where}: {field!r} must be positive integers (1 to {MAX_LAYERS} of them, each at most "
                        f"{MAX_UNITS}), got {shown!r}")
    return tuple(values)


def check_option(options: dict, field: str, where: str, *, choices: dict | None = None,
                 low: float | None = None, high: float | None = None) -> None:
    """One option's value: among ``choices`` or a finite number in ``[low, high]`` (skipped when absent)."""
    if field not in options:
        return
    value = options[field]
    if choices is not None:
        if not isinstance(value, (str, type(None))) or value not in choices:
            raise SpecError(unknown_name_message(field, str(value), sorted(str(k) for k in choices if k), where))
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise SpecError(f"{where}: {field!r} must be a number in [{low}, {high}], got {value!r}")
