"""The ``cnn`` model type: conv → ReLU → max-pool blocks, then a dense head, for images (C, H, W)."""
from __future__ import annotations

from typing import Any

from tutelage import nn
from tutelage.errors import SpecError
from tutelage_plugins.models.common import OUTPUTS, check_option, output_layers, sizes


class CNNType:
    """Small convolutional network: per channel count a 'same' conv, ReLU and 2×2 max-pool (while the image allows)."""

    name = "cnn"
    description = "convolutional network for images (channels, height, width)"

    def validate_options(self, options: dict[str, Any], where: str = "cnn") -> None:
        """Raise :class:`~tutelage.errors.SpecError` naming ``where`` and the option unless ``build`` can take them."""
        sizes(options.get("channels", 8), "channels", where)
        for field, default in (("hidden", 64), ("kernel", 3)):
            value = options.get(field, default)
            if not isinstance(value, int) or isinstance(value, bool):
                raise SpecError(f"{where}: {field!r} must be an integer, got {value!r}")
        sizes(options.get("hidden", 64), "hidden", where)
        check_option(options, "kernel", where, low=1, high=15)
        check_option(options, "output_activation", where, choices=OUTPUTS)

    def build(self, input_shape: tuple[int, ...], output_size: int, *, seed: int = 0, channels: Any = (8, 16),
              kernel: int = 3, hidden: int = 64, output_activation: str | None = None) -> nn.Model:
        if len(tuple(input_shape)) != 3:
            raise SpecError(f"cnn: input_shape must be (channels, height, width), got {list(input_shape)}")
        _, h, w = input_shape
        layers: list[nn.Layer] = []
        for count in sizes(channels, "channels", "cnn"):
            layers += [nn.Conv2d(count, kernel=kernel, padding=kernel // 2), nn.ReLU()]
            if h >= 2 and w >= 2:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
        layers += [nn.Flatten(), nn.Dense(hidden), nn.ReLU(), nn.Dense(output_size),
                   *output_layers(output_activation, "cnn")]
        return nn.Model(layers, input_shape, seed=seed)
