"""`nnintro plot`: the lecture's pictures: activations with their derivatives, optimizers on a surface (as a picture or an
animation), softmax of a logit vector."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from nnintro.files import write_atomic
from nnintro.models.layers import ACTIVATIONS
from nnintro.reports.plots import (
    activations_figure,
    animation_gif,
    figure_array,
    optimizers_figure,
    save_figure,
    softmax_figure,
)

SADDLE_START = (1.0, 1e-3)  # on the ridge, nudged off it: escaping is the whole story
LIMIT = 1.5  # the picture's square at least; it grows to frame the paths
ESCAPE = 30.0  # a path this far out has escaped (or blown up): it stops there

# name -> (formula as the picture shows it, f(x, y) on tensors)
FUNCTIONS = {
    "saddle": ("x² - y²", lambda x, y: x**2 - y**2),
    "bowl": ("x² + 10y²", lambda x, y: x**2 + 10 * y**2),  # a long narrow valley: momentum's case
    "rosenbrock": ("(1 - x)² + 100(y - x²)²", lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2),
}
OPTIMIZERS = {
    "sgd": ("gradient descent (SGD)", lambda p, lr: torch.optim.SGD(p, lr=lr)),
    "momentum": ("SGD + momentum 0.9", lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9)),
    "rmsprop": ("RMSprop", lambda p, lr: torch.optim.RMSprop(p, lr=lr)),
    "adam": ("Adam", lambda p, lr: torch.optim.Adam(p, lr=lr)),
}


# the perceptron's: flat on both sides of the jump, so their derivative is 0 wherever it exists (autograd gives 0
# for sign and no gradient at all for a comparison): nothing for gradient descent to follow
PERCEPTRON = {"step (perceptron): f' = 0": lambda x: (x > 0).double(), "sign (perceptron): f' = 0": torch.sign}
SIGMOID_BIASES = (-2.0, 0.0, 2.0)  # the bias shifts where the sigmoid's step happens: sigma(z + b) is 1/2 at z = -b


def activation_curves() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Every activation a model can use, then the perceptron's: (x, f(x), f'(x)) on [-5, 5], f' from autograd."""
    x = torch.linspace(-5, 5, 401, dtype=torch.float64)
    curves = {}
    for name, activation in ACTIVATIONS.items():
        module = activation().eval().double()  # eval: rrelu uses its fixed mean slope
        point = x.clone().requires_grad_()
        y = module(point)
        (dy,) = torch.autograd.grad(y.sum(), point)
        curves[name] = (x.numpy(), y.detach().numpy(), dy.numpy())
    for name, function in PERCEPTRON.items():
        curves[name] = (x.numpy(), function(x).numpy(), np.zeros(len(x)))
    return curves


def sigmoid_shifts(biases: tuple[float, ...] = SIGMOID_BIASES) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """sigma(z + b) on [-5, 5] for each bias b."""
    z = torch.linspace(-5, 5, 401, dtype=torch.float64)
    return {b: (z.numpy(), torch.sigmoid(z + b).numpy()) for b in biases}


def optimizer_paths(steps: int = 120, lr: float = 0.05, start: tuple[float, float] = SADDLE_START,
                    function: str = "saddle", optimizers: list[str] | None = None) -> dict[str, np.ndarray]:
    """The same start, the same lr: each chosen optimizer's path on the function."""
    f = FUNCTIONS[function][1]
    paths = {}
    for name in optimizers or list(OPTIMIZERS):
        label, make = OPTIMIZERS[name]
        point = torch.tensor(start, dtype=torch.float64, requires_grad=True)
        optimizer = make([point], lr)
        path = [point.detach().clone().numpy()]
        for _ in range(steps):
            optimizer.zero_grad()
            f(point[0], point[1]).backward()
            optimizer.step()
            path.append(point.detach().clone().numpy())
            if not point.detach().abs().max() <= ESCAPE:  # it has escaped (or blown up)
                break
        paths[label] = np.stack(path)
    return paths


def plot_activations(path: Path) -> Path:
    save_figure(activations_figure(activation_curves(), sigmoid_shifts()), path)
    return path


def random_start(seed: int) -> tuple[float, float]:
    """The lecture's random start, inside the picture (seeded, so a class sees the same one)."""
    x, y = np.random.default_rng(seed).uniform(-LIMIT * 0.8, LIMIT * 0.8, 2)
    return float(x), float(y)


def plot_optimizers(path: Path, lr: float = 0.05, steps: int = 120, start: tuple[float, float] = SADDLE_START,
                    function: str = "saddle", optimizers: list[str] | None = None,
                    animate: bool = False) -> list[Path]:
    """The paths as a PNG and, with animate, as a GIF beside it (the same name, .gif) where they grow step by step."""
    formula, f = FUNCTIONS[function]
    paths = optimizer_paths(steps, lr, start, function, optimizers)
    title = f"from ({start[0]:.3g}, {start[1]:.3g}) on f = {formula}, lr {lr:g}, {steps} steps"
    surface = _surface(f, paths)
    save_figure(optimizers_figure(paths, title, surface, formula), path)
    if not animate:
        return [path]
    longest = max(len(p) for p in paths.values())
    frames = []
    for shown in sorted({max(1, round(longest * (i + 1) / ANIMATION_FRAMES)) for i in range(ANIMATION_FRAMES)}):
        figure = optimizers_figure({name: p[:shown] for name, p in paths.items()}, f"{title}: step {shown - 1}",
                                   surface, formula)
        frames.append(figure_array(figure))
    gif = path.with_suffix(".gif")
    write_atomic(gif, animation_gif([("", frame) for frame in frames], size=None))
    return [path, gif]


ANIMATION_FRAMES = 40


def _surface(f, paths: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The function over a square that frames every path (at least [-LIMIT, LIMIT]), so a path that escapes the
    saddle is seen leaving over several frames, not gone after three steps."""
    points = np.concatenate([p for p in paths.values()])
    points = points[np.isfinite(points).all(1)]
    reach = max(LIMIT, float(np.abs(points).max()) * 1.05) if len(points) else LIMIT
    grid = torch.linspace(-reach, reach, 200, dtype=torch.float64)
    gy, gx = torch.meshgrid(grid, grid, indexing="ij")
    return gx.numpy(), gy.numpy(), f(gx, gy).numpy()


def plot_softmax(path: Path, logits: list[float], temperature: float = 1.0) -> Path:
    """A logit vector beside its softmax: what the model's last layer turns into probabilities."""
    values = torch.tensor(logits, dtype=torch.float64)
    probabilities = torch.softmax(values / temperature, 0).numpy()
    save_figure(softmax_figure(values.numpy(), probabilities, temperature), path)
    return path
