"""Backpropagation from scratch, in numpy: the first lecture's network as code a student can read.

Every layer remembers what its forward pass needs and has a backward(): given dL/d(its output), it returns
dL/d(its input) and, for Linear, stores dL/d(weight) and dL/d(bias). A network is a list of layers; training
is forward through the list, the loss's gradient, backward through the list in reverse, then a step. The
`train.engine: numpy` setting trains with these gradients instead of autograd's (the optimizer, checkpoints
and reports are the usual ones), and `nnintro backprop` prints them node by node.
"""
from __future__ import annotations

import numpy as np


class Linear:
    """z = x W^T + b. Backward: dW = dz^T x, db = sum of dz over the batch, dx = dz W."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray | None) -> None:
        self.weight, self.bias = weight, bias  # (out, in), (out,): the torch model's own memory when training
        self.grad_weight = self.grad_bias = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        z = x @ self.weight.T
        return z + self.bias if self.bias is not None else z

    def backward(self, grad: np.ndarray) -> np.ndarray:
        self.grad_weight = grad.T @ self.x
        if self.bias is not None:
            self.grad_bias = grad.sum(0)
        return grad @ self.weight


class ReLU:
    """max(0, z); its slope is 1 where z > 0 and 0 elsewhere (a dead unit passes no gradient back)."""

    def forward(self, z: np.ndarray) -> np.ndarray:
        self.active = z > 0
        return z * self.active

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * self.active


class Sigmoid:
    """1 / (1 + e^-z); its slope is s (1 - s), at most 0.25: why deep sigmoid networks learn slowly."""

    def forward(self, z: np.ndarray) -> np.ndarray:
        self.out = 1 / (1 + np.exp(-z))
        return self.out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * self.out * (1 - self.out)


class Tanh:
    """tanh(z); its slope is 1 - tanh(z)^2."""

    def forward(self, z: np.ndarray) -> np.ndarray:
        self.out = np.tanh(z)
        return self.out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * (1 - self.out**2)


class Identity:
    def forward(self, z: np.ndarray) -> np.ndarray:
        return z

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad


class Rescale:
    """A regression head's last step, z * std + mean (the targets' own units): the gradient is scaled by std."""

    def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.mean, self.std = mean, std

    def forward(self, z: np.ndarray) -> np.ndarray:
        return z * self.std + self.mean

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * self.std


ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "identity": Identity}


class SoftmaxCrossEntropy:
    """Mean over the batch of -log softmax(logits)[true class]. Its gradient has a famous simple form:
    (softmax(logits) - one_hot(y)) / batch size."""

    def forward(self, logits: np.ndarray, y: np.ndarray) -> np.ndarray:
        shifted = logits - logits.max(1, keepdims=True)  # the same softmax, without overflow
        log_probabilities = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
        self.probabilities, self.y = np.exp(log_probabilities), y
        return -log_probabilities[np.arange(len(y)), y]  # one loss per sample

    def backward(self) -> np.ndarray:
        grad = self.probabilities.copy()
        grad[np.arange(len(self.y)), self.y] -= 1
        return grad / len(self.y)


class MSE:
    """Mean squared error, ((out - y) / scale)^2 averaged over the outputs (scale: the targets' std, so every
    target counts alike). Per sample; the gradient is that of their mean over the batch."""

    def __init__(self, scale: np.ndarray | float = 1.0) -> None:
        self.scale = scale

    def forward(self, out: np.ndarray, y: np.ndarray) -> np.ndarray:
        self.error = (out - y.reshape(out.shape)) / self.scale
        return (self.error**2).mean(1)

    def backward(self) -> np.ndarray:
        return 2 * self.error / self.scale / self.error.size


LOSSES = {"cross_entropy": SoftmaxCrossEntropy, "mse": MSE}


class Network:
    """Layers applied in order; the loss sits on top."""

    def __init__(self, layers: list, loss: SoftmaxCrossEntropy | MSE) -> None:
        self.layers, self.loss = layers, loss

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self) -> np.ndarray:
        """Walk the chain rule from the loss back to the input; each Linear keeps its weight gradients."""
        grad = self.loss.backward()
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def forward_backward(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Outputs and per-sample losses of one batch; afterwards every Linear holds its gradients."""
        outputs = self.forward(x)
        losses = self.loss.forward(outputs, y)
        self.backward()
        return outputs, losses

    @property
    def linears(self) -> list[Linear]:
        return [layer for layer in self.layers if isinstance(layer, Linear)]
