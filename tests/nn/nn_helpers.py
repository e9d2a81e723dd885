"""Shared helpers for the core-engine tests."""
from __future__ import annotations

import numpy as np

from tutelage.nn import reference


def random_inputs(model, n: int, rng: np.random.Generator) -> np.ndarray:
    """A batch that suits the model: integer ids for an embedding, normal values otherwise."""
    shape = (n, *model.input_shape)
    if model.layers and model.layers[0].type == "embedding":
        return rng.integers(0, model.layers[0].vocab, size=shape).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


def check_against_reference(model, X: np.ndarray, rng: np.random.Generator, rtol=2e-4, atol=2e-5) -> None:
    """Forward (batch and batch-1), input gradient and θ gradient of the core equal the float64 reference."""
    Y = model.forward(X)
    ref_y, tape = reference.model_forward(model, X)
    np.testing.assert_allclose(Y, ref_y, rtol=rtol, atol=atol)
    np.testing.assert_allclose(model(X[0]), ref_y[0], rtol=rtol, atol=atol)  # batch-1 path; keeps the batch state
    dY = rng.standard_normal(Y.shape).astype(np.float32)
    model.zero_grad()
    dX = model.backward(dY)
    ref_dx, ref_grad = reference.model_backward(model, tape, dY)
    scale = max(1.0, float(np.abs(ref_grad).max(initial=0.0)))
    np.testing.assert_allclose(dX, ref_dx, rtol=rtol, atol=atol * scale)
    np.testing.assert_allclose(model.grad, ref_grad, rtol=rtol, atol=atol * scale)
