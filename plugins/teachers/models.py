"""Model teachers: any trained tutelage model (float or int8) as a teacher.

A model teacher sees only the observation (``privileged = False``). For a
classifier it also gives logits, softened with a temperature for
distillation (Hinton et al. 2015). Registered as the ``model`` teacher:
``registry("teachers").get("model")(path="teacher.safetensors", temperature=4)``.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from tutelage.errors import SpecError
from tutelage.methods.kd import model_logits, softmax
from tutelage.rollouts.policy import observation_vector


class ModelTeacher:
    """A trained model as a teacher: ``act`` for one observation, ``logits``/``soft_targets`` for batches."""

    privileged = False

    def __init__(self, model: Any = None, *, path: str | os.PathLike | None = None, temperature: float = 1.0,
                 name: str | None = None):
        if (model is None) == (path is None):
            raise SpecError("teacher 'model': give exactly one of a model or path= (a .safetensors file)")
        if not float(temperature) > 0:
            raise SpecError(f"teacher 'model': temperature must be positive, got {temperature!r}")
        if model is None:
            from tutelage import nn

            model = nn.load(path)
        self.model = model
        self.temperature = float(temperature)
        self.model_id = str((getattr(model, "info", None) or {}).get("id", ""))
        self.name = name or (f"model:{self.model_id}" if self.model_id else "model")

    @property
    def n_params(self) -> int:
        return int(self.model.n_params)

    def reset(self, seed: int | None = None) -> None:
        """Nothing to reset: a model keeps no state between steps."""

    def act(self, observation: Any, info: dict[str, Any] | None = None) -> np.ndarray:
        """The model's output for one observation (a dict observation is flattened, keys sorted)."""
        return np.asarray(self.model(observation_vector(observation)))

    def logits(self, X: np.ndarray) -> np.ndarray:
        """Logits for a batch: raw outputs, or log-probabilities when the model ends in (log-)softmax."""
        return model_logits(self.model, X)

    def soft_targets(self, X: np.ndarray, temperature: float | None = None) -> np.ndarray:
        """Class probabilities at ``temperature`` (the teacher's own by default)."""
        return softmax(self.logits(X), self.temperature if temperature is None else temperature)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Hard labels: the arg-max class of each row."""
        return np.argmax(self.logits(X), axis=-1).astype(np.int64)


def model_teacher(path: str | os.PathLike | None = None, temperature: float = 1.0, **options: Any) -> ModelTeacher:
    """The ``model`` teacher factory: ``model_teacher(path="teacher.safetensors", temperature=4.0)``."""
    return ModelTeacher(options.pop("model", None), path=path, temperature=temperature, **options)
