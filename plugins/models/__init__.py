"""Built-in model types: ``mlp`` (predictive and policy), ``cnn`` (vision), the generative ``gmm``, ``vae``, ``mdn``
and the language model ``lm``."""
from __future__ import annotations

from tutelage import hookimpl
from tutelage.nn.layers import LAYER_TYPES
from tutelage_plugins.models.cnn import CNNType
from tutelage_plugins.models.gmm import GMMType
from tutelage_plugins.models.lm import LMType
from tutelage_plugins.models.mdn import MDNType
from tutelage_plugins.models.mlp import MLPType
from tutelage_plugins.models.vae import VAEType


@hookimpl
def tutelage_model_types() -> dict:
    return {"mlp": MLPType(), "cnn": CNNType(), "gmm": GMMType(), "vae": VAEType(), "mdn": MDNType(),
            "lm": LMType()}


@hookimpl
def tutelage_layer_kinds() -> dict:
    return dict(LAYER_TYPES)
