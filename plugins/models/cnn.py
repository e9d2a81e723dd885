"""The ``cnn`` model type: conv → ReLU → max-pool blocks, then a dense head, for images (C, H, W).

With ``image = [C, H, W]`` it reads a flat observation instead: the image's
values first (a camera frame, times ``scale``), then any further values (the
speed, say), each spread over one more plane (:class:`tutelage.nn.Planes`).
"""
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
        if "image" in options:
            image = options["image"]
            if not isinstance(image, (list, tuple)) or len(image) != 3:
                raise SpecError(f"{where}: 'image' must be [channels, height, width], got {image!r}")
            sizes(list(image), "image", where)
        check_option(options, "scale", where, low=0.0, high=1e6)

    def build(self, input_shape: tuple[int, ...], output_size: int, *, seed: int = 0, channels: Any = (8, 16),
              kernel: int = 3, hidden: int = 64, output_activation: str | None = None,
              image: Any = None, scale: float = 1.0) -> nn.Model:
        layers: list[nn.Layer] = []
        shape = tuple(input_shape)
        if image is not None:
            layers.append(nn.Planes(list(image), scale=scale))
            shape = layers[0].output_shape(shape)
        if len(shape) != 3:
            raise SpecError(f"cnn: input_shape must be (channels, height, width), got {list(input_shape)}")
        _, h, w = shape
        for count in sizes(channels, "channels", "cnn"):
            layers += [nn.Conv2d(count, kernel=kernel, padding=kernel // 2), nn.ReLU()]
            if h >= 2 and w >= 2:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
        layers += [nn.Flatten(), nn.Dense(hidden), nn.ReLU(), nn.Dense(output_size),
                   *output_layers(output_activation, "cnn")]
        return nn.Model(layers, input_shape, seed=seed)
