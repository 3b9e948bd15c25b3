"""Regression's pictures and tables: predicted against true with the y = x line, residuals, and the
per-target errors eval prints, all in the targets' own units."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from nnintro.datasets.base import DatasetBundle
from nnintro.reports import plots
from nnintro.reports.learned_function import draws_surface, surface_figure
from nnintro.reports.sink import FigureSink
from nnintro.reports.tables import Column, TableSpec
from nnintro.tasks import Regression, SplitOutputs


def _figures(sink: FigureSink, task: Regression, outputs: SplitOutputs, title: str) -> None:
    true, predicted = outputs.targets.numpy(), outputs.outputs.numpy()
    sink("predicted_vs_true", plots.predicted_vs_true_figure(true, predicted, task.targets, f"{title}: predicted vs true"))
    sink("residuals", plots.residuals_figure(true, predicted, task.targets, f"{title}: residuals"))


def per_target(task: Regression, outputs: SplitOutputs) -> dict[str, dict[str, float]]:
    return {name: task.metrics(SplitOutputs(outputs.outputs[:, [i]], outputs.targets[:, [i]], outputs.losses))
            for i, name in enumerate(task.targets)}


def run_report(sink: FigureSink, model: nn.Module, data: DatasetBundle, test: SplitOutputs, examples: int,
               architecture: dict, run_name: str, untrained: Callable[[], nn.Module] | None = None) -> dict[str, Any]:
    _figures(sink, data.task, test, f"{run_name} (test)")
    if untrained is not None and draws_surface(data):
        sink("surface", surface_figure([("untrained", untrained()), ("trained", model)], data,
                                       f"{run_name}: the learned function before and after training"))
    return {}


def split_report(sink: FigureSink, task: Regression, outputs: SplitOutputs, title: str) -> dict[str, Any]:
    _figures(sink, task, outputs, title)
    return {"per_target": per_target(task, outputs)}


def split_tables(metrics: dict[str, Any], title: str) -> list[TableSpec]:
    rows = [{"target": name, **values} for name, values in metrics["per_target"].items()]
    return [TableSpec(f"{title}: {metrics['samples']} samples, errors in the target's own units", [
        Column("target", "target", left=True), Column("rmse", "rmse", "{:.5g}"), Column("mae", "mae", "{:.5g}"),
        Column("mse", "mse", "{:.5g}"), Column("r2", "R²", "{:.4f}")], rows)]
