"""Classification's pictures and tables: confusion matrix, probabilities, top losses, learned weights,
decision boundary, PR curves, and the per-class table eval prints."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from nnintro.datasets.base import DatasetBundle
from nnintro.files import write_csv
from nnintro.models.layers import PackedLinear, readable_names, watching_activations
from nnintro.reports import plots
from nnintro.reports.sink import FigureSink
from nnintro.reports.tables import Column, TableSpec
from nnintro.tasks import Classification, SplitOutputs

GRID_LIMIT, GRID_STEPS = 6.0, 121  # the Playground's [-6, 6] square


PRINTED_MATRIX = 12  # eval prints the whole matrix up to this many classes (the picture and CSV hold any count)


def confusion_counts(outputs: SplitOutputs, classes: int) -> np.ndarray:
    """counts[true, predicted]."""
    pairs = outputs.targets.long() * classes + outputs.outputs.argmax(1)
    return torch.bincount(pairs, minlength=classes * classes).reshape(classes, classes).numpy()


def write_confusion(sink: FigureSink, outputs: SplitOutputs, classes: list[str], title: str) -> list[dict]:
    """confusion_matrix.png and .csv; returns the most-confused pairs."""
    counts = confusion_counts(outputs, len(classes))
    write_csv(sink.folder / "confusion_matrix.csv",
              [{"true \\ predicted": name, **dict(zip(classes, row.tolist()))} for name, row in zip(classes, counts)])
    sink("confusion_matrix", plots.confusion_matrix_figure(counts, classes, title))
    return plots.most_confused(counts, classes)


def plane_points(device: torch.device, steps: int = GRID_STEPS) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The Playground's square as a grid (row 0 at y = -limit): its x and y (steps, steps) and the points (steps², 2)."""
    axis = torch.linspace(-GRID_LIMIT, GRID_LIMIT, steps)
    grid_y, grid_x = torch.meshgrid(axis, axis, indexing="ij")
    return grid_x, grid_y, torch.stack([grid_x.reshape(-1), grid_y.reshape(-1)], 1).to(device)


@torch.inference_mode()
def boundary_grid(model: nn.Module, device: torch.device) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    grid_x, grid_y, points = plane_points(device)
    was_training = model.training
    model.eval()
    positive = torch.softmax(model(points).float(), 1)[:, 1].reshape(GRID_STEPS, GRID_STEPS).cpu().numpy()
    model.train(was_training)
    return grid_x.numpy(), grid_y.numpy(), positive


@torch.inference_mode()
def hidden_unit_maps(model: nn.Module, device: torch.device, limit: int = 12) -> list[tuple[str, np.ndarray]]:
    """The Playground's neuron view: each hidden unit's output over the plane, layer by layer (a pack: its first
    member), at most `limit` units per layer."""
    pack = getattr(model, "pack", model)
    names = readable_names(pack)
    _, _, points = plane_points(device)
    outputs: dict[str, torch.Tensor] = {}
    with watching_activations(pack, lambda index, _module, out: outputs.__setitem__(index, out[0])):
        pack(points)
    maps = []
    for index, values in outputs.items():
        values = values.float().cpu()
        for unit in range(min(limit, values.shape[1])):
            maps.append((f"{names[index]}[{unit}]", values[:, unit].reshape(GRID_STEPS, GRID_STEPS).numpy()))
    return maps


def boundary_image(model: nn.Module, data: DatasetBundle) -> np.ndarray:
    """A quick per-epoch picture (no matplotlib figure): P(positive) coloured, training points as dots."""
    from matplotlib import colormaps

    _, _, positive = boundary_grid(model, data.train.x.device)
    image = colormaps["RdBu"](positive)[..., :3] * 0.8 + 0.2
    cells = ((data.train.x.cpu().numpy() + GRID_LIMIT) / (2 * GRID_LIMIT) * (GRID_STEPS - 1)).round().astype(int)
    inside = ((cells >= 0) & (cells < GRID_STEPS)).all(1)
    colours = np.where(data.train.y.cpu().numpy()[inside, None] == 1, [[0.05, 0.2, 0.6]], [[0.6, 0.05, 0.1]])
    image[cells[inside, 1], cells[inside, 0]] = colours
    return (image[::-1] * 255).astype(np.uint8)  # row 0 at the top is y = +6


def decision_boundary(model: nn.Module, data: DatasetBundle, title: str):
    grid_x, grid_y, positive = boundary_grid(model, data.train.x.device)
    train = (data.train.x.cpu().numpy(), data.train.y.cpu().numpy())
    test = (data.test.x.cpu().numpy(), data.test.y.cpu().numpy())
    return plots.decision_boundary_figure(grid_x, grid_y, positive, train, test, title)


def write_learned_weights(sink: FigureSink, model: nn.Module, data: DatasetBundle, architecture: dict) -> None:
    """linear: one template per class; mlp: the first layer's strongest units, as images (a pack: member 0's)."""
    first = next(m for m in model.modules() if isinstance(m, PackedLinear))
    weights = first.weight[0].detach().float().cpu().numpy()
    shape = data.input_shape
    if architecture["kind"] == "linear":
        sink("templates", plots.weight_images_figure(weights, shape, data.task.classes,
                                                     "linear classifier weights per class (templates)"))
        return
    strength = np.linalg.norm(weights, axis=1)
    strongest = np.argsort(-strength)[:15]
    sink("first_layer", plots.weight_images_figure(weights[strongest], shape,
                                                   [f"unit {u} (|w| {strength[u]:.2f})" for u in strongest],
                                                   "first hidden layer: the 15 units with the largest weights"))


def spread_over_classes(labels: np.ndarray, count: int, seed: int = 0,
                        candidates: np.ndarray | None = None) -> list[int]:
    """Up to count indices (among candidates, default all), seeded, taking the classes in turn: a class-sorted
    split still shows every class."""
    rng = np.random.default_rng(seed)
    pool = np.arange(len(labels)) if candidates is None else np.asarray(candidates)
    by_class = [rng.permutation(pool[labels[pool] == c]) for c in np.unique(labels[pool])]
    chosen: list[int] = []
    for round_ in range(count):
        chosen += [int(members[round_]) for members in by_class if round_ < len(members)]
        if len(chosen) >= count:
            break
    return chosen[:count]


def teaching_examples(probabilities: np.ndarray, labels: np.ndarray, count: int, seed: int = 0) -> list[tuple[int, str]]:
    """Test images worth looking at, chosen with a fixed seed: about a third wrong, a third the least confident
    right ones, the rest right ones spread over the classes (a class-sorted test set would otherwise show ten
    images of its first class, all at probability 1.00)."""
    rng = np.random.default_rng(seed)
    predicted = probabilities.argmax(1)
    wrong = np.flatnonzero(predicted != labels)
    right = np.flatnonzero(predicted == labels)
    chosen = [(int(i), "wrong") for i in rng.permutation(wrong)[: count // 3]]
    unsure = right[np.argsort(probabilities[right, predicted[right]])][: count // 3]
    chosen += [(int(i), "least confident") for i in unsure]
    rest = np.setdiff1d(right, unsure)
    chosen += [(i, "right") for i in spread_over_classes(labels, count - len(chosen), seed, rest)]
    return chosen


def most_confused_table(pairs: list[dict]) -> TableSpec:
    """The largest confusions, the one taking the largest share of its true class first."""
    ranked = sorted(pairs, key=lambda pair: (-pair["share_of_true"], -pair["count"]))
    return TableSpec("most confused (true -> predicted), largest share of the true class first", [
        Column("true", "true", left=True), Column("predicted", "predicted", left=True), Column("count", "count"),
        Column("share_of_true", "share of true class", "{:.1%}")], ranked)


def confusion_table(matrix: list[list[int]], classes: list[str]) -> TableSpec:
    """The confusion matrix as printed rows: true classes down, predictions across."""
    columns = [Column("true", "true \\ predicted", left=True), *(Column(f"p{i}", name) for i, name in enumerate(classes))]
    rows = [{"true": name, **{f"p{i}": count for i, count in enumerate(row)}} for name, row in zip(classes, matrix)]
    return TableSpec("confusion matrix (counts)", columns, rows)


def run_report(sink: FigureSink, model: nn.Module, data: DatasetBundle, test: SplitOutputs, examples: int,
               architecture: dict, run_name: str, untrained: Callable[[], nn.Module] | None = None) -> dict[str, Any]:
    """The classification pictures of a finished run; returns the most-confused test pairs for metrics.json.
    (The untrained model is already drawn, as the decision boundary's first frame.)"""
    classes = data.task.classes
    confused = write_confusion(sink, test, classes, f"{run_name}: test confusion matrix")
    probabilities = torch.softmax(test.outputs.float(), 1).numpy()
    if data.kind == "image":
        x = data.test.x.cpu().numpy()
        count = min(examples, len(x))
        labels = test.targets.numpy()
        scale = data.normalization["scale"]
        chosen = teaching_examples(probabilities, labels, count)
        picked = [i for i, _ in chosen]
        kinds = {why: sum(1 for _, w in chosen if w == why) for why in ("wrong", "least confident", "right")}
        sink("probabilities", plots.probabilities_figure(
            x[picked], scale, probabilities[picked], classes, labels[picked].tolist(),
            [f"test #{i} ({why})" for i, why in chosen],
            f"class probabilities on {len(chosen)} test images, a seeded mix: "
            + ", ".join(f"{n} {why}" for why, n in kinds.items() if n)))
        worst = np.argsort(-test.losses.numpy())[:count]
        predicted = probabilities.argmax(1)
        captions = [f"true {classes[labels[i]]}\npred {classes[predicted[i]]} ({probabilities[i, predicted[i]]:.2f})"
                    f"\nloss {float(test.losses[i]):.2f}" for i in worst]
        sink("top_losses", plots.image_grid_figure(x[worst], scale, captions, f"{count} test images with the highest loss",
                                                   [labels[i] != predicted[i] for i in worst]))
        write_learned_weights(sink, model, data, architecture)
    elif data.kind == "points":
        sink("decision_boundary", decision_boundary(model, data, f"{run_name}: decision boundary"))
        maps = hidden_unit_maps(model, data.train.x.device)
        if maps:
            sink("hidden_units", plots.unit_maps_figure(maps, GRID_LIMIT, f"{run_name}: what each hidden unit "
                                                         f"computes over the plane (red < 0 < blue)"))
    if sink.writer is not None:  # one PR curve per class, for the classes a person can look through
        for index, name in enumerate(classes[:plots.MAX_DRAWN_CLASSES]):
            sink.writer.add_pr_curve(f"pr/{name}", test.targets == index, torch.from_numpy(probabilities[:, index]),
                                     sink.step)
    return {"most_confused": confused}


def split_report(sink: FigureSink, task: Classification, outputs: SplitOutputs, title: str) -> dict[str, Any]:
    """eval's extras: precision/recall/F1 per class, the confusion matrix and the most-confused pairs."""
    confused = write_confusion(sink, outputs, task.classes, f"{title} confusion matrix")
    counts = confusion_counts(outputs, task.width)
    report = plots.per_class_scores(counts, task.classes)
    matrix = {"confusion_matrix": counts.tolist()} if task.width <= PRINTED_MATRIX else {}
    return {"per_class": report, "most_confused": confused, **matrix}


def split_tables(metrics: dict[str, Any], title: str) -> list[TableSpec]:
    names = [k for k in metrics["per_class"] if k not in ("accuracy", "macro avg", "weighted avg")]
    rows = [{"class": name, **metrics["per_class"][name]} for name in [*names, "macro avg", "weighted avg"]]
    table = TableSpec(f"{title}: accuracy {metrics['accuracy']:.4f}  loss {metrics['loss']:.4f}  "
                      f"({metrics['samples']} samples)", [
                          Column("class", "class", left=True), Column("precision", "precision", "{:.3f}"),
                          Column("recall", "recall", "{:.3f}"), Column("f1-score", "f1", "{:.3f}"),
                          Column("support", "support", lambda v: f"{int(v)}")], rows, section_after={len(names) - 1})
    matrix = [confusion_table(metrics["confusion_matrix"], names)] if "confusion_matrix" in metrics else []
    return [table, *matrix, *([most_confused_table(metrics["most_confused"])] if metrics["most_confused"] else [])]
