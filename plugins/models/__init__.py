"""Built-in model types: ``mlp`` (predictive and policy) and ``cnn`` (vision)."""
from __future__ import annotations

from tutelage import hookimpl


@hookimpl
def tutelage_model_types() -> dict:
    return {}
