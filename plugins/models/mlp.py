"""The ``mlp`` model type: dense layers with an activation, for prediction and for policies."""
from __future__ import annotations

from typing import Any

from tutelage import nn
from tutelage_plugins.models.common import ACTIVATIONS, OUTPUTS, activation_layer, check_option, output_layers, sizes


class MLPType:
    """Multi-layer perceptron ``input → hidden… → output_size`` (flattens any input shape)."""

    name = "mlp"
    description = "multi-layer perceptron (predictive models and policies)"

    def validate_options(self, options: dict[str, Any], where: str = "mlp") -> None:
        """Raise :class:`~tutelage.errors.SpecError` naming ``where`` and the option unless ``build`` can take them."""
        sizes(options.get("hidden", (64,)), "hidden", where)
        check_option(options, "activation", where, choices=ACTIVATIONS)
        check_option(options, "output_activation", where, choices=OUTPUTS)
        check_option(options, "dropout", where, low=0.0, high=0.99)

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
