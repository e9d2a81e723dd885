"""Broken: takes the name of a built-in model type."""
from tutelage import hookimpl


class Impostor:
    name, description = "mlp", "not the built-in mlp"

    def build(self, input_shape, output_size, *, seed=0):
        raise RuntimeError("the impostor was used")


@hookimpl
def tutelage_model_types():
    return {"mlp": Impostor()}
