"""Built-in model types: ``mlp`` (predictive and policy) and ``cnn`` (vision)."""
from __future__ import annotations

from tutelage import hookimpl
from tutelage_plugins.models.cnn import CNNType
from tutelage_plugins.models.mlp import MLPType


@hookimpl
def tutelage_model_types() -> dict:
    return {"mlp": MLPType(), "cnn": CNNType()}
