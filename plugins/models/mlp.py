"""The ``mlp`` model type: dense layers with an activation, for prediction and for policies."""
from __future__ import annotations

from typing import Any

from tutelage import nn
from tutelage_plugins.models.common import activation_layer, output_layers, sizes


class MLPType:
    """Multi-layer perceptron ``input → hidden… → output_size`` (flattens any input shape)."""

    name = "mlp"
    description = "multi-layer perceptron (predictive models and policies)"

    def build(self, input_shape: tuple[int, ...], output_size: int, *, seed: int = 0, hidden: Any = (64, 64),
              activation: str = "tanh", output_activation: str | None = None,
              dropout: float = 0.0) -> nn.Model:
        layers: list[nn.Layer] = [nn.Flatten()] if len(tuple(input_shape)) > 1 else []
        for units in sizes(hidden, "hidden", "mlp"):
            layers += [nn.Dense(units), activation_layer(activation, "mlp")]
            if dropout:
                layers.append(nn.Dropout(dropout))
        layers += [nn.Dense(output_size), *output_layers(output_activation, "mlp")]
        return nn.Model(layers, input_shape, seed=seed)
