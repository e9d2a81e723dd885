"""Broken: layer kinds that are not layers, are misnamed, or lack a backward pass."""
from tutelage import hookimpl
from tutelage.nn import PluginLayer


class Misnamed(PluginLayer):
    type = "something-else"


class NoBackward(PluginLayer):
    type = "corpus-nobackward"

    def forward(self, x, training):
        return x


@hookimpl
def tutelage_layer_kinds():
    return {"corpus-notalayer": object, "corpus-misnamed": Misnamed, "corpus-nobackward": NoBackward}
