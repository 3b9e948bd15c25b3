"""train.engine: numpy — the trainer's step takes its gradients from the from-scratch numpy network
(nnintro.models.scratch) instead of autograd. The numpy layers work on the torch model's own weight memory, so the
optimizer, checkpoints, evaluation and reports are the usual ones; only forward and backward are the lesson's."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nnintro.errors import ConfigError
from nnintro.models import scratch
from nnintro.models.layers import Destandardize, PackedLinear
from nnintro.tasks import Task

LOSSES = {("classification", "cross_entropy"): scratch.SoftmaxCrossEntropy, ("regression", "mse"): scratch.MSE}


def check_task(task: Task, loss_config: Any) -> None:
    name = task.loss_name(loss_config)
    if (task.name, name) not in LOSSES:
        valid = " or ".join(f"{loss} for {kind}" for kind, loss in LOSSES)
        raise ConfigError(f"loss.name: train.engine numpy has no from-scratch '{name}' for {task.name} (valid: {valid})")


class NumpyEngine:
    """One pack-of-one model's forward and backward in numpy; the gradients land in the parameters' .grad."""

    def __init__(self, model: nn.Sequential, task: Task, loss_config: Any) -> None:
        modules = list(model)
        first = next(i for i, m in enumerate(modules) if isinstance(m, PackedLinear))
        self.prepare = nn.Sequential(*modules[:first])  # input standardization: nothing there learns
        self.parameters: list[tuple[torch.Tensor, scratch.Linear]] = []
        layers = [self._numpy_layer(module) for module in modules[first:]]
        scale = next((layer.std for layer in layers if isinstance(layer, scratch.Rescale)), 1.0)
        loss = LOSSES[task.name, task.loss_name(loss_config)]
        self.network = scratch.Network(layers, loss(scale) if loss is scratch.MSE else loss())

    def _numpy_layer(self, module: nn.Module) -> Any:
        if isinstance(module, PackedLinear):
            bias = module.bias.detach()[0].numpy() if module.bias is not None else None
            layer = scratch.Linear(module.weight.detach()[0].numpy(), bias)  # views: the optimizer's updates show
            self.parameters.append((module, layer))
            return layer
        if isinstance(module, Destandardize):
            return scratch.Rescale(module.mean.numpy(), module.std.numpy())
        names = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.Identity: "identity"}
        return scratch.ACTIVATIONS[names[type(module)]]()

    def forward_backward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The pack-shaped outputs (1, B, width) and loss (1,), with every parameter's .grad set."""
        with torch.no_grad():
            inputs = self.prepare(x).numpy()
        outputs, losses = self.network.forward_backward(inputs, y.numpy())
        for module, layer in self.parameters:
            module.weight.grad = torch.from_numpy(layer.grad_weight).unsqueeze(0)
            if module.bias is not None:
                module.bias.grad = torch.from_numpy(layer.grad_bias).unsqueeze(0)
        return torch.from_numpy(outputs).unsqueeze(0), torch.from_numpy(losses).mean().reshape(1)
