"""The plain MLP's backward pass written out on torch tensors: no autograd graph.

At batch 64 a step of the 784-128-10 MNIST model is a handful of small GEMMs whose Python and dispatcher cost
exceeds their arithmetic; autograd adds its graph, a node per operation and the gradient accumulation. This
engine runs the textbook equations (the from-scratch numpy engine's, on torch tensors), writing into buffers it
keeps between steps: forward addmm, the activation in place, the softmax-cross-entropy (or MSE) gradient in
place, then each layer's weight, bias and input gradients as mm/addmm. The gradients land in the parameters'
.grad, so the optimizer, checkpoints and reports are the usual ones. A pack of one runs 2-D kernels (F.linear's);
a pack of K shares the first layer's input as one wide matmul and runs the rest as batched matmuls.

Only what it covers takes this path (see `explicit_problems`); anything else goes through autograd.
`tests/training/test_explicit.py` checks every gradient against autograd's.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from nnintro.models.layers import Destandardize, PackedLinear, Standardize
from nnintro.tasks import Task

# activation module -> (in-place forward, d(loss)/d(its input) from its output and d(loss)/d(its output))
ACTIVATIONS = {
    nn.ReLU: (lambda z: z.clamp_(min=0), lambda a, grad: torch.ops.aten.threshold_backward(grad, a, 0)),
    nn.Sigmoid: (lambda z: z.sigmoid_(), lambda a, grad: grad.mul_(a * (1 - a))),
    nn.Tanh: (lambda z: z.tanh_(), lambda a, grad: grad.mul_(1 - a * a)),
    nn.Identity: (lambda z: z, lambda a, grad: grad),
}


def explicit_problems(model: nn.Sequential, task: Task, config: Any, distributed: bool) -> list[str]:
    """Why this run's step needs autograd (empty: the explicit backward covers it)."""
    modules = list(model)
    first = next(i for i, m in enumerate(modules) if isinstance(m, PackedLinear))
    learned = (PackedLinear, nn.Dropout, Destandardize, *ACTIVATIONS)
    problems = [f"layer {type(m).__name__}" for m in modules[first:] if not isinstance(m, learned)]
    if any(p.requires_grad for m in modules[:first] for p in m.parameters()):
        problems.append("a learned input layer")
    loss = task.loss_name(config.loss)
    if (task.name, loss) not in (("classification", "cross_entropy"), ("regression", "mse")):
        problems.append(f"loss {loss}")
    unsupported = {
        "train.engine: autograd": config.train.engine == "autograd",
        "train.precision": config.train.precision != "32",
        "train.compile": config.train.compile,
        "regularization.l1": any(m.regularization.l1 for m in config.member_configs()),
        "loss.label_smoothing": config.loss.label_smoothing > 0,
        "loss.class_weight": config.loss.class_weight != "none",
        "data.augment.mixup": config.data.augment.enabled and config.data.augment.mixup > 0,
        "data.folds": bool(config.data.folds),
        "torchrun": distributed,
    }
    return problems + [name for name, used in unsupported.items() if used]


class _Standardized:
    """Standardize then Flatten, the usual start of a model, as one addcmul over the flattened batch with
    per-feature scale and shift (uint8 pixels are promoted in the same pass): 3x faster than the two modules."""

    def __init__(self, standardize: Standardize) -> None:
        self.standardize, self.shape = standardize, None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.shape != x.shape[1:]:
            self.shape = x.shape[1:]
            self.scale = self.standardize.weight.expand(self.shape).reshape(-1)
            self.shift = self.standardize.bias.expand(self.shape).reshape(-1)
        return torch.addcmul(self.shift, x.reshape(len(x), -1), self.scale)


def _preparation(modules: list[nn.Module]) -> Callable[[torch.Tensor], torch.Tensor]:
    """What turns a batch into the first layer's input (nothing there learns)."""
    if [type(m) for m in modules] == [Standardize, nn.Flatten]:
        return _Standardized(modules[0])
    return nn.Sequential(*modules)


class _Dense:
    """One PackedLinear's forward, weight-gradient and input-gradient products, with the views they need made
    once (the optimizer and checkpoints update the tensors in place, so the views stay the parameters')."""

    def __init__(self, linear: PackedLinear, members: int, shared_input: bool) -> None:
        weight, bias = linear.weight, linear.bias
        self.parameters = [p for p in (weight, bias) if p is not None]
        self.gradients = [torch.zeros_like(p) for p in self.parameters]  # kept: each step overwrites them
        self.members, self.has_bias = members, bias is not None
        grad_weight = self.gradients[0]
        grad_bias = self.gradients[1] if self.has_bias else None
        w = weight.detach()
        b = bias.detach() if self.has_bias else None
        self.flat = members == 1 or shared_input  # 2-D products: one member, or the shared first layer (wide)
        if members == 1:
            self.w, self.grad_w = w[0], grad_weight[0]
            self.b, self.grad_b = (b[0], grad_bias[0]) if self.has_bias else (None, None)
        elif shared_input:  # every member reads the same input: one (B, in) x (in, K * out) matmul
            self.w, self.grad_w = w.view(-1, w.shape[2]), grad_weight.view(-1, w.shape[2])
            self.b, self.grad_b = (b.view(-1), grad_bias.view(-1)) if self.has_bias else (None, None)
            self.out_features = w.shape[1]
        else:
            self.w, self.grad_w = w, grad_weight
            self.b, self.grad_b = (b.unsqueeze(1), grad_bias) if self.has_bias else (None, None)
        self.wt = self.w.t() if self.flat else self.w.transpose(1, 2)

    def bind(self) -> None:
        """The kept gradients as the parameters' .grad (something may have set them to None since)."""
        for parameter, gradient in zip(self.parameters, self.gradients):
            if parameter.grad is not gradient:
                parameter.grad = gradient

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        """(B, out) for one member, (K, B, out) for a pack."""
        if self.flat:
            out = torch.addmm(self.b, a, self.wt) if self.has_bias else a.mm(self.wt)
            return out if self.members == 1 else out.view(-1, self.members, self.out_features).transpose(0, 1)
        return torch.baddbmm(self.b, a, self.wt) if self.has_bias else torch.bmm(a, self.wt)

    def weight_gradients(self, below: torch.Tensor, grad: torch.Tensor) -> None:
        """dW = grad^T below, db = the batch's sum of grad."""
        if self.flat:
            if self.members > 1:
                grad = grad.transpose(0, 1).reshape(grad.shape[1], -1)  # (B, K * out), as the forward's
            torch.mm(grad.t(), below, out=self.grad_w)
            if self.has_bias:
                torch.sum(grad, 0, out=self.grad_b)
            return
        torch.bmm(grad.transpose(1, 2), below, out=self.grad_w)
        if self.has_bias:
            torch.sum(grad, 1, out=self.grad_b)

    def input_gradient(self, grad: torch.Tensor) -> torch.Tensor:
        return grad.mm(self.w) if self.members == 1 else torch.bmm(grad, self.w)


@dataclass
class _Layer:
    dense: _Dense
    forward: Any = None  # the activation after it (None: the output layer)
    derivative: Any = None
    dropout: float = 0.0


class ExplicitBackward:
    """forward_backward(x, y) for a pack of plain MLPs; the gradients land in the parameters' .grad."""

    def __init__(self, model: nn.Sequential, task: Task) -> None:
        modules = list(model)
        first = next(i for i, m in enumerate(modules) if isinstance(m, PackedLinear))
        self.prepare = _preparation(modules[:first])
        members = modules[first].weight.shape[0]
        self.layers: list[_Layer] = []
        self.target_scale: Destandardize | None = None
        for module in modules[first:]:
            if isinstance(module, PackedLinear):
                self.layers.append(_Layer(_Dense(module, members, shared_input=not self.layers)))
            elif isinstance(module, nn.Dropout):
                self.layers[-1].dropout = module.p
            elif isinstance(module, Destandardize):
                self.target_scale = module
            else:
                self.layers[-1].forward, self.layers[-1].derivative = ACTIVATIONS[type(module)]
        self.members = members
        self.classification = task.name == "classification"
        self.model = model

    def forward_backward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The pack's outputs (K, B, width) and each member's mean loss (K,), with every .grad set. The outputs
        are for reading before the next step."""
        with torch.no_grad():
            for layer in self.layers:
                layer.dense.bind()
            inputs = self.prepare(x)
            layers = self._forward(inputs)
            outputs = layers[-1][0]
            grad, losses = self._loss_gradient(outputs, y)
            self._backward(inputs, layers, grad)
            if self.target_scale is not None:
                outputs = self.target_scale(outputs)
        return outputs if self.members > 1 else outputs.unsqueeze(0), losses

    def _forward(self, inputs: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
        """Each layer's (activation, the same after dropout, the dropout mask or None): 2-D (B, width) for a
        pack of one, else (K, B, width). The activation's derivative reads the first, the next layer the second."""
        layers = []
        a = inputs
        dropping = self.model.training
        for layer in self.layers:
            a = layer.dense.forward(a)
            if layer.forward is not None:
                a = layer.forward(a)
            mask, dropped = None, a
            if layer.dropout > 0 and dropping:
                keep = 1 - layer.dropout
                mask = torch.empty_like(a).bernoulli_(keep).div_(keep)  # as torch's own dropout draws it
                dropped = a * mask
            layers.append((a, dropped, mask))
            a = dropped
        return layers

    def _loss_gradient(self, outputs: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """d(mean loss)/d(outputs) and each member's mean loss (K,)."""
        batch = outputs.shape[-2]
        if self.classification:
            grad = torch.log_softmax(outputs, -1)
            labels = y.unsqueeze(-1) if self.members == 1 else y.expand(self.members, -1).unsqueeze(-1)
            picked = grad.gather(-1, labels)
            losses = picked.mean(-2).neg_().view(-1)
            grad.exp_().scatter_add_(-1, labels, picked.fill_(-1.0))  # softmax - one-hot
            return grad.div_(batch), losses
        # the regression loss is on standardized errors: (z - (y - mean) / std)^2, averaged over the targets
        scale = self.target_scale
        error = outputs - (y - scale.mean) / scale.std
        losses = error.square().mean((-2, -1)).view(-1)
        return error.mul_(2 / (batch * outputs.shape[-1])), losses

    def _backward(self, inputs: torch.Tensor, layers: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]],
                  grad: torch.Tensor) -> None:
        for index in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[index]
            if index < len(self.layers) - 1:  # the hidden layer's dropout and activation, in reverse
                activation, _, mask = layers[index]
                if mask is not None:
                    grad = grad.mul_(mask)
                grad = layer.derivative(activation, grad)
            layer.dense.weight_gradients(layers[index - 1][1] if index > 0 else inputs, grad)
            if index > 0:
                grad = layer.dense.input_gradient(grad)
