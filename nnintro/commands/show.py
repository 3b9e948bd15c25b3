"""`nnintro show`: look at the data before training (the lab's first step): a grid of training images with
their class names, the 2-D points over the untrained model's probabilities, or a table's columns and targets (and
for two numeric inputs, its rows in 3-D over the untrained model's function)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from nnintro.config import Config
from nnintro.datasets import DatasetBundle
from nnintro.reports.classification import spread_over_classes
from nnintro.reports.tables import Column, TableSpec


def show_data(config: Config, out: Path, count: int = 30) -> tuple[Path | None, list[TableSpec]]:
    """The picture of the training data (None for a table, except one of two numeric inputs: its rows in 3-D), the
    tables describing the splits and the configured model's layers."""
    from nnintro.models.layers import user_model
    from nnintro.reports import plots
    from nnintro.reports.layers import layer_table
    from nnintro.reports.learned_function import draws_surface, surface_figure
    from nnintro.training.trainer import prepare

    if config.data.dataset == "csv":  # every column's fate first: a refused column must not hide the others
        from nnintro.datasets.tabular import column_fates

        fates = TableSpec(f"{config.data.path}: what happens to each column",
                          [Column("column", "column", left=True), Column("fate", "what nnintro does with it", left=True)],
                          column_fates(config.data, config.seed))
        if any("refused" in row["fate"] for row in fates.rows):
            return None, [fates]
    data, model = prepare(config)
    untrained = user_model(model, data.task.combine)
    summary = [_summary(data), layer_table(model, data.input_shape)]
    if data.kind == "table":
        summary = [*([fates] if config.data.dataset == "csv" else []), summary[0], first_rows(data), summary[1]]
        if not draws_surface(data):
            return None, summary
        # the rows in 3-D over the untrained model's function: where training starts from
        figure = surface_figure([("untrained", untrained)], data, f"{data.name}: {len(data.test)} test rows and the "
                                                                  f"untrained model's function")
    elif data.kind == "image":
        figure = samples_figure(data, count)
        if data.task.name == "classification":
            plots.save_figure(untrained_softmax_figure(data, untrained), out.with_suffix(UNTRAINED_SUFFIX))
    else:  # over the untrained model's probabilities: where training starts from (the notebook's pcolormesh)
        from nnintro.reports.classification import decision_boundary

        figure = decision_boundary(untrained, data, f"{data.name}: {len(data.train)} training points, over the "
                                                    f"untrained model's P(positive)")
    plots.save_figure(figure, out)
    return out, summary


UNTRAINED_SUFFIX = ".untrained_softmax.png"  # beside the samples picture


def untrained_softmax_figure(data: DatasetBundle, untrained: Any, count: int = 12):
    """The untrained model's (a user_model view's) softmax on the first test images: every class near 1/C, whatever
    the image (the lecture's picture of where training starts)."""
    import torch

    from nnintro.reports import plots

    x, y = data.test.x[:count], data.test.y[:count]
    with torch.inference_mode():
        probabilities = data.task.finish(untrained.eval()(x)).numpy()
    classes = data.task.classes
    return plots.softmax_heatmap_figure(probabilities, classes, [f"test #{i}: {classes[int(t)]}" for i, t in enumerate(y)],
                                        f"{data.name}: the untrained model's softmax (1/{len(classes)} = "
                                        f"{1 / len(classes):.2f} would be knowing nothing)")


def samples_figure(data: DatasetBundle, count: int = 30):
    """Training images with their class names, classes taken in turn."""
    from nnintro.reports import plots

    x, y = data.train.x.cpu().numpy(), data.train.y.cpu().numpy()
    chosen = spread_over_classes(y, count)
    return plots.image_grid_figure(x[chosen], data.normalization["scale"], [data.task.classes[y[i]] for i in chosen],
                                   f"{data.name}: {len(chosen)} training images, classes taken in turn "
                                   f"(raw pixels, before the model standardizes them)", columns=6)


def column_blocks(data: DatasetBundle) -> list:
    """The training split's inputs cut into one block per table column (a number: 1 wide; text: its one-hot)."""
    from nnintro.datasets.encoding import column_width

    x = data.train.x.numpy()
    blocks, start = [], 0
    for column in data.inputs.get("columns", []):
        width = column_width(column)
        blocks.append(x[:, start:start + width])
        start += width
    return blocks


def first_rows(data: DatasetBundle, count: int = 5) -> TableSpec:
    """The first training rows as the table held them (text decoded from its one-hot columns), with the target."""
    from nnintro.datasets.encoding import levels

    columns = data.inputs["columns"]
    blocks = column_blocks(data)
    targets = data.inputs.get("targets") or ["target"]
    rows = []
    for i in range(min(count, len(data.train))):
        row = {c["name"]: (levels(c)[int(block[i, :len(levels(c))].argmax())] if c["kind"] == "category"
                           else f"{block[i, 0]:.4g}") for c, block in zip(columns, blocks)}
        rows.append({**row, **dict(zip(targets, data.task.target_text(data.train.y[i])))})
    names = [c["name"] for c in columns] + targets
    return TableSpec(f"the first {len(rows)} training rows", [Column(n, n, left=True) for n in names], rows)


def _summary(data: DatasetBundle) -> TableSpec:
    task = data.task.describe()
    what = (f"{len(task['classes'])} classes: {', '.join(task['classes'][:12])}" + (" ..." if len(task["classes"]) > 12
            else "") if "classes" in task else f"regression on {', '.join(task['targets'])}")
    rows = [{"key": "task", "value": what},
            {"key": "splits", "value": data.sizes},
            {"key": "input", "value": f"{data.kind} {list(data.train.x.shape[1:])}"}]
    from nnintro.datasets.encoding import levels

    for column, values in zip(data.inputs.get("columns", []), column_blocks(data)):
        if column["kind"] == "category":
            names = levels(column)
            counts = values[:, :len(names)].sum(0)
            kind = (f"text, {len(column['categories'])} categories, most common "
                    f"'{names[int(counts.argmax())]}' ({counts.max() / len(values):.0%})")
        else:
            kind = f"number, {values[:, 0].min():.4g} to {values[:, 0].max():.4g}, mean {values[:, 0].mean():.4g}"
        rows.append({"key": f"column {column['name']}", "value": kind})
    rows += [{"key": "note", "value": note} for note in data.notes]
    return TableSpec(data.name, [Column("key", "", left=True), Column("value", "", left=True)], rows,
                     show_header=False)
