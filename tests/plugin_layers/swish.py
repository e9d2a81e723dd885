"""A plugin for the tests: the ``swish`` layer kind, ``y = x·σ(βx)`` with one learned β per feature."""
import numpy as np

from tutelage import hookimpl
from tutelage.nn import PluginLayer


class Swish(PluginLayer):
    type = "swish"

    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta0 = float(beta)

    def config(self):
        return {"beta": self.beta0}

    def param_shapes(self, shape):
        return {"beta": (shape[-1],)}

    def init(self, shape, rng):
        self.params["beta"][...] = self.beta0

    def forward(self, x, training):
        return x / (1.0 + np.exp(-self.params["beta"] * x))

    def backward(self, x, y, dy):
        beta = self.params["beta"]
        s = 1.0 / (1.0 + np.exp(-beta * x))
        ds = dy * x * s * (1.0 - s)  # dL/d(βx) times x
        self.grads["beta"] += (ds * x).reshape(-1, x.shape[-1]).sum(axis=0)
        return dy * s + ds * beta


@hookimpl
def tutelage_layer_kinds():
    return {"swish": Swish}
