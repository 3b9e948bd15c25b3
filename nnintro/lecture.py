"""The lecture's pictures: activations with their derivatives, optimizers on a saddle."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from nnintro.models import ACTIVATIONS
from nnintro.reports.plots import activations_figure, optimizers_figure, save_figure, softmax_figure

SADDLE_START = (1.0, 1e-3)  # on the ridge, nudged off it: escaping is the whole story


def activation_curves() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    curves = {}
    for name, activation in ACTIVATIONS.items():
        module = activation().eval()  # eval: rrelu uses its fixed mean slope
        x = torch.linspace(-5, 5, 401, requires_grad=True)
        y = module(x)
        (dy,) = torch.autograd.grad(y.sum(), x)
        curves[name] = (x.detach().numpy(), y.detach().numpy(), dy.numpy())
    return curves


def saddle_paths(steps: int = 120, lr: float = 0.05,
                 start: tuple[float, float] = SADDLE_START) -> dict[str, np.ndarray]:
    """The same start, the same lr, plain gradient descent and three optimizers, on f(x, y) = x^2 - y^2."""
    makers = {
        "gradient descent (SGD)": lambda p: torch.optim.SGD(p, lr=lr),
        "SGD + momentum 0.9": lambda p: torch.optim.SGD(p, lr=lr, momentum=0.9),
        "RMSprop": lambda p: torch.optim.RMSprop(p, lr=lr),
        "Adam": lambda p: torch.optim.Adam(p, lr=lr),
    }
    paths = {}
    for name, make in makers.items():
        point = torch.tensor(start, dtype=torch.float32, requires_grad=True)
        optimizer = make([point])
        path = [point.detach().clone().numpy()]
        for _ in range(steps):
            optimizer.zero_grad()
            (point[0] ** 2 - point[1] ** 2).backward()
            optimizer.step()
            path.append(point.detach().clone().numpy())
            if point.detach().abs().max() > 1.5:  # it has left the picture (and the saddle)
                break
        paths[name] = np.stack(path)
    return paths


def plot_activations(path: Path) -> Path:
    save_figure(activations_figure(activation_curves()), path)
    return path


def plot_optimizers(path: Path, lr: float = 0.05, steps: int = 120,
                    start: tuple[float, float] = SADDLE_START) -> Path:
    title = f"from {start} on the saddle x² - y², lr {lr:g}, {steps} steps: who escapes along y?"
    save_figure(optimizers_figure(saddle_paths(steps, lr, start), title), path)
    return path


def plot_softmax(path: Path, logits: list[float], temperature: float = 1.0) -> Path:
    """A logit vector beside its softmax: what the model's last layer turns into probabilities."""
    values = torch.tensor(logits, dtype=torch.float64)
    probabilities = torch.softmax(values / temperature, 0).numpy()
    save_figure(softmax_figure(values.numpy(), probabilities, temperature), path)
    return path
