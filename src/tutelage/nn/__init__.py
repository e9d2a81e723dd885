"""The Python face of the Cython core: layers, models (one θ vector), losses, optimizers, save/load.

>>> import numpy as np
>>> from tutelage import nn
>>> model = nn.Sequential([nn.Dense(64), nn.Tanh(), nn.Dense(2)], input_shape=(16,), seed=0)
>>> model(np.zeros(16, np.float32)).shape
(2,)
"""
from tutelage.nn import losses, optim
from tutelage.nn.layers import (
    GELU, LAYER_TYPES, Conv2d, Dense, Dropout, Embedding, Flatten, Layer, LayerNorm, LogSoftmax, MaxPool2d, PluginLayer,
    ReLU, Sigmoid, Softmax, Tanh,
)
from tutelage.nn.model import Model, Sequential
from tutelage.nn.serialize import load, model_id, save

__all__ = [
    "GELU", "LAYER_TYPES", "Conv2d", "Dense", "Dropout", "Embedding", "Flatten", "Layer", "LayerNorm",
    "LogSoftmax", "MaxPool2d", "Model", "PluginLayer", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh", "load",
    "losses", "model_id", "optim", "save",
]
