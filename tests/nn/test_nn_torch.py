"""Parity with torch.nn on the same weights (runs only where PyTorch is installed)."""
from __future__ import annotations

import numpy as np
import pytest

from tutelage import nn

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


def to_torch(model):
    """The same network in torch.nn, sharing our weights (Dense W is stored (in, out); Linear wants (out, in))."""
    modules = []
    shape = model.input_shape
    for layer, out_shape in zip(model.layers, model.shapes[1:]):
        p = {k: torch.from_numpy(v.copy()) for k, v in layer.params.items()}
        if layer.type == "dense":
            m = torch.nn.Linear(shape[-1], layer.units)
            m.weight.data, m.bias.data = p["weight"].T.contiguous(), p["bias"]
        elif layer.type == "conv2d":
            m = torch.nn.Conv2d(shape[0], layer.channels, layer.kernel, layer.stride, layer.padding)
            m.weight.data, m.bias.data = p["weight"], p["bias"]
        elif layer.type == "layer_norm":
            m = torch.nn.LayerNorm(shape[-1], eps=layer.eps)
            m.weight.data, m.bias.data = p["gamma"], p["beta"]
        else:
            m = {"relu": torch.nn.ReLU(), "tanh": torch.nn.Tanh(), "sigmoid": torch.nn.Sigmoid(), "gelu": torch.nn.GELU(),
                 "softmax": torch.nn.Softmax(-1), "log_softmax": torch.nn.LogSoftmax(-1), "flatten": torch.nn.Flatten(),
                 "maxpool2d": torch.nn.MaxPool2d(getattr(layer, "size", 1))}[layer.type]
        modules.append(m)
        shape = out_shape
    return torch.nn.Sequential(*modules)


def torch_grad(net):
    grads = []
    for m in net:
        if isinstance(m, torch.nn.Linear):
            grads += [m.weight.grad.T.reshape(-1), m.bias.grad]
        elif isinstance(m, (torch.nn.Conv2d, torch.nn.LayerNorm)):
            grads += [m.weight.grad.reshape(-1), m.bias.grad]
    return torch.cat(grads).numpy()


@pytest.mark.parametrize(
    "layers, shape",
    [
        ([nn.Dense(64), nn.Tanh(), nn.Dense(64), nn.Tanh(), nn.Dense(2)], (16,)),
        ([nn.Dense(32), nn.GELU(), nn.LayerNorm(), nn.Dense(8), nn.Sigmoid(), nn.Dense(5), nn.LogSoftmax()], (12,)),
        ([nn.Conv2d(6, kernel=3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, kernel=3, stride=2), nn.Flatten(),
          nn.Dense(10), nn.Softmax()], (3, 9, 9)),
    ],
)
def test_forward_and_gradients_match_torch(layers, shape):
    rng = np.random.default_rng(0)
    model = nn.Model(layers, shape, seed=0)
    net = to_torch(model)
    X = rng.standard_normal((4, *shape)).astype(np.float32)
    dY = rng.standard_normal((4, model.output_size)).astype(np.float32)
    xt = torch.from_numpy(X).requires_grad_(True)
    yt = net(xt)
    yt.backward(torch.from_numpy(dY))
    np.testing.assert_allclose(model.forward(X), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    model.zero_grad()
    dX = model.backward(dY)
    np.testing.assert_allclose(dX, xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.grad, torch_grad(net), rtol=1e-4, atol=1e-4)


def test_cross_entropy_and_adam_step_match_torch():
    rng = np.random.default_rng(1)
    model = nn.Model([nn.Dense(16), nn.Tanh(), nn.Dense(3)], (5,), seed=1)
    net = to_torch(model)
    X = rng.standard_normal((8, 5)).astype(np.float32)
    y = rng.integers(0, 3, 8)
    opt_t = torch.optim.Adam(net.parameters(), lr=0.01)
    opt = nn.optim.Adam(lr=0.01)
    for _ in range(3):
        opt_t.zero_grad()
        loss_t = torch.nn.functional.cross_entropy(net(torch.from_numpy(X)), torch.from_numpy(y))
        loss_t.backward()
        opt_t.step()
        model.zero_grad()
        value, grad = nn.losses.CrossEntropy()(model.forward(X, training=True), y)
        model.backward(grad, input_grad=False)
        opt.step(model)
        assert value == pytest.approx(loss_t.item(), rel=1e-5)
    np.testing.assert_allclose(model.forward(X), net(torch.from_numpy(X)).detach().numpy(), rtol=1e-4, atol=1e-5)
