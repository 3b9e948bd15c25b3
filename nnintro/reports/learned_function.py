"""Regression read in the data's own units: a linear model's learned function as a formula, and a model of two
inputs drawn in 3-D (the test rows, its function before and after training, the true function of a generated set)."""
from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from nnintro.datasets.base import DatasetBundle
from nnintro.datasets.encoding import input_names
from nnintro.datasets.surfaces import SURFACES
from nnintro.tasks import Regression

GRID = 30  # points per input axis of the drawn function
FORMULA_INPUTS = 12  # a longer formula is left to metrics.json


def table_inputs(data: DatasetBundle) -> list[str]:
    """The names of a table's model inputs (a column, a category's one-hot input, a date's part); [] otherwise."""
    return [name for spec in data.inputs.get("columns", []) for name in input_names(spec)]


def _evaluate(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """The model's outputs for rows x, in float64 on the CPU (a copy: the run's own model is left as it is)."""
    exact = copy.deepcopy(model).cpu().double().eval()
    with torch.no_grad():
        return exact(torch.from_numpy(x)).numpy()


def learned_numbers(model: nn.Module, data: DatasetBundle, architecture: dict[str, Any]) -> dict[str, Any]:
    """What metrics.json and the summary add for a regression on a table: a linear model's function in the data's
    units, and the true function of a generated set."""
    if not isinstance(data.task, Regression) or not table_inputs(data):
        return {}
    truth = SURFACES.get(data.name)  # the function a generated set was drawn from, before its noise
    return {**({"linear_function": linear_function(model, data)} if architecture["kind"] == "linear" else {}),
            **({"true_function": truth.formula} if truth else {})}


def linear_function(model: nn.Module, data: DatasetBundle) -> dict[str, Any]:
    """A linear model's function in the data's units, per target: each input's weight (the change of the target
    for one unit more of that input) and the intercept, read off as f(0) and f(e_j) - f(0), which is exact for an
    affine model whatever its standardizing layers."""
    names = table_inputs(data)
    points = np.vstack([np.zeros(len(names)), np.eye(len(names))])
    values = _evaluate(model, points)
    result = {}
    for index, target in enumerate(data.task.targets):
        intercept, weights = float(values[0, index]), (values[1:, index] - values[0, index]).tolist()
        result[target] = {"weights": dict(zip(names, weights)), "intercept": intercept,
                          **({"formula": formula(target, names, weights, intercept)}
                             if len(names) <= FORMULA_INPUTS else {})}
    return result


def formula(target: str, names: list[str], weights: list[float], intercept: float) -> str:
    text = f"{target} = {weights[0]:.4g}·{names[0]}"
    for name, weight in zip(names[1:], weights[1:]):
        text += f" {'-' if weight < 0 else '+'} {abs(weight):.4g}·{name}"
    return f"{text} {'-' if intercept < 0 else '+'} {abs(intercept):.4g}"


def draws_surface(data: DatasetBundle) -> bool:
    """One target of two numeric columns: a function a person can look at in 3-D (a category's one-hot inputs
    would put points between its categories)."""
    columns = data.inputs.get("columns", [])
    return (len(table_inputs(data)) == 2 and all(spec["kind"] == "numeric" for spec in columns)
            and data.task.width == 1)


def surface_figure(panels: list[tuple[str, nn.Module]], data: DatasetBundle, title: str) -> Any:
    """One 3-D panel per (caption, model), e.g. the untrained model and the trained one: the test rows as dots, the
    model's function as a surface over the training inputs' range, the true function (a generated set) as a grey
    wireframe."""
    from nnintro.reports.plots import RIGHT, WRONG, plt, tight

    names, target = table_inputs(data), data.task.targets[0]
    train_x = data.train.x.cpu().double().numpy()
    axes_values = [np.linspace(train_x[:, i].min(), train_x[:, i].max(), GRID) for i in (0, 1)]
    g1, g2 = np.meshgrid(*axes_values)
    grid = np.column_stack([g1.ravel(), g2.ravel()])
    truth = SURFACES.get(data.name)
    test_x, test_y = data.test.x.cpu().numpy(), data.test.y.cpu().numpy()[:, 0]
    figure = plt.figure(figsize=(5.5 * len(panels), 5))
    for panel, (caption, model) in enumerate(panels, 1):
        axis = figure.add_subplot(1, len(panels), panel, projection="3d")
        axis.scatter(test_x[:, 0], test_x[:, 1], test_y, s=6, color=WRONG, alpha=0.6, label="test rows")
        axis.plot_surface(g1, g2, _evaluate(model, grid)[:, 0].reshape(g1.shape), color=RIGHT, alpha=0.45,
                          linewidth=0, label="the model")
        if truth is not None:
            axis.plot_wireframe(g1, g2, truth.function(g1, g2), color="grey", linewidth=0.5, rstride=3, cstride=3,
                                label=f"true: {truth.formula}")
        axis.set_xlabel(names[0])
        axis.set_ylabel(names[1])
        axis.set_zlabel(target)
        axis.set_title(caption, fontsize=10)
        if panel == 1:
            axis.legend(fontsize=7, loc="upper left")
    figure.suptitle(title, fontsize=10)
    tight(figure)
    return figure


