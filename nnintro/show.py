"""`nnintro show`: look at the data before training (the lab's first step): a grid of training images with
their class names, the 2-D points over the untrained model's probabilities, or a table's columns and targets."""
from __future__ import annotations

from pathlib import Path

from nnintro.config import Config
from nnintro.datasets import DatasetBundle
from nnintro.reports.classification import spread_over_classes
from nnintro.reports.tables import Column, TableSpec


def show_data(config: Config, out: Path, count: int = 30) -> tuple[Path | None, list[TableSpec]]:
    """The picture of the training data (None for tables), a table describing the splits, and the configured
    model's layers."""
    from nnintro.layers import layer_table
    from nnintro.reports import plots
    from nnintro.trainer import prepare

    data, model = prepare(config)
    summary = [_summary(data), layer_table(model, data.input_shape)]
    if data.kind == "table":
        return None, summary
    x, y = data.train.x.numpy(), data.train.y.numpy()
    names = data.task.classes
    if data.kind == "image":
        chosen = spread_over_classes(y, count)
        figure = plots.image_grid_figure(x[chosen], data.normalization["scale"], [names[y[i]] for i in chosen],
                                         f"{data.name}: {len(chosen)} training images, classes taken in turn "
                                         f"(raw pixels, before the model standardizes them)", columns=6)
    else:  # over the untrained model's probabilities: where training starts from (the notebook's pcolormesh)
        from nnintro.models import user_model
        from nnintro.reports.classification import decision_boundary

        figure = decision_boundary(user_model(model, data.task.combine), data,
                                   f"{data.name}: {len(x)} training points, over the untrained model's P(positive)")
    plots.save_figure(figure, out)
    return out, summary


def _summary(data: DatasetBundle) -> TableSpec:
    task = data.task.describe()
    what = (f"{len(task['classes'])} classes: {', '.join(task['classes'][:12])}" + (" ..." if len(task["classes"]) > 12
            else "") if "classes" in task else f"regression on {', '.join(task['targets'])}")
    rows = [{"key": "task", "value": what},
            {"key": "splits", "value": f"{len(data.train)} train / {len(data.val)} val / {len(data.test)} test"},
            {"key": "input", "value": f"{data.kind} {list(data.train.x.shape[1:])}"}]
    for column in data.inputs.get("columns", []):
        kind = (f"text, {len(column['categories'])} categories" if column["kind"] == "category" else "number")
        rows.append({"key": f"column {column['name']}", "value": kind})
    rows += [{"key": "note", "value": note} for note in data.notes]
    return TableSpec(data.name, [Column("key", "", left=True), Column("value", "", left=True)], rows,
                     show_header=False)
