"""The files every run gets (and what eval writes): confusion matrix, probabilities, top losses, curves,
learned weights, decision boundary. Each picture goes to the run folder and, when given a writer, to
TensorBoard's Images tab."""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nnintro.datasets.base import DatasetBundle
from nnintro.evaluate import SplitOutputs
from nnintro.reports import plots
from nnintro.runs import write_atomic

GRID_LIMIT, GRID_STEPS = 6.0, 121  # the Playground's [-6, 6] square


class FigureSink:
    """Saves each figure as PNG in a folder and, optionally, as an image in TensorBoard."""

    def __init__(self, folder: Path, writer: Any = None, step: int = 0) -> None:
        self.folder, self.writer, self.step = folder, writer, step

    def __call__(self, name: str, figure) -> None:
        png = plots.png_bytes(figure)
        write_atomic(self.folder / f"{name}.png", png)
        if self.writer is not None:
            from PIL import Image

            image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
            self.writer.add_image(f"reports/{name}", image, self.step, dataformats="HWC")


def confusion_counts(outputs: SplitOutputs, classes: int) -> np.ndarray:
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(outputs.labels.numpy(), outputs.predictions.numpy(), labels=list(range(classes)))


def write_confusion(sink: FigureSink, outputs: SplitOutputs, classes: list[str], title: str) -> list[dict]:
    """confusion_matrix.png and .csv; returns the most-confused pairs."""
    counts = confusion_counts(outputs, len(classes))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["true \\ predicted", *classes])
    for name, row in zip(classes, counts):
        writer.writerow([name, *row.tolist()])
    write_atomic(sink.folder / "confusion_matrix.csv", buffer.getvalue())
    sink("confusion_matrix", plots.confusion_matrix_figure(counts, classes, title))
    return plots.most_confused(counts, classes)


@torch.inference_mode()
def boundary_grid(model: nn.Module, device: torch.device) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    axis = torch.linspace(-GRID_LIMIT, GRID_LIMIT, GRID_STEPS)
    grid_y, grid_x = torch.meshgrid(axis, axis, indexing="ij")
    points = torch.stack([grid_x.reshape(-1), grid_y.reshape(-1)], 1).to(device)
    was_training = model.training
    model.eval()
    positive = torch.softmax(model(points).float(), 1)[:, 1].reshape(GRID_STEPS, GRID_STEPS).cpu().numpy()
    model.train(was_training)
    return grid_x.numpy(), grid_y.numpy(), positive


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
    """linear: one template per class; mlp: the first layer's strongest units, as images."""
    first = next(m for m in model if isinstance(m, nn.Linear))
    weights = first.weight.detach().float().cpu().numpy()
    shape = data.input_shape
    if architecture["kind"] == "linear":
        sink("templates", plots.weight_images_figure(weights, shape, data.classes,
                                                     "linear classifier weights per class (templates)"))
        return
    strength = np.linalg.norm(weights, axis=1)
    strongest = np.argsort(-strength)[:15]
    sink("first_layer", plots.weight_images_figure(weights[strongest], shape,
                                                   [f"unit {u} (|w| {strength[u]:.2f})" for u in strongest],
                                                   "first hidden layer: the 15 units with the largest weights"))


def write_run_report(run_dir: Path, model: nn.Module, data: DatasetBundle, test: SplitOutputs,
                     history: list[dict], best_epoch: int, stopped_early: bool, architecture: dict,
                     examples: int, run_name: str, writer: Any = None) -> list[dict]:
    """Every picture for a finished run; returns the most-confused test pairs."""
    step = len(history)
    sink = FigureSink(run_dir, writer, step)
    confused = write_confusion(sink, test, data.classes, f"{run_name}: test confusion matrix")
    if history:
        sink("curves", plots.curves_figure(history, best_epoch, stopped_early, run_name))
    probabilities = torch.softmax(test.logits.float(), 1).numpy()
    if data.kind == "image":
        x = data.test.x.cpu().numpy()
        count = min(examples, len(x))
        labels = test.labels.numpy()
        scale = data.normalization["scale"]
        sink("probabilities", plots.probabilities_figure(x[:count], scale, probabilities[:count], data.classes,
                                                         labels[:count].tolist(), [f"test #{i}" for i in range(count)]))
        worst = np.argsort(-test.losses.numpy())[:count]
        predicted = probabilities.argmax(1)
        captions = [f"true {data.classes[labels[i]]}\npred {data.classes[predicted[i]]} ({probabilities[i, predicted[i]]:.2f})"
                    f"\nloss {float(test.losses[i]):.2f}" for i in worst]
        sink("top_losses", plots.image_grid_figure(x[worst], scale, captions, f"{count} test images with the highest loss",
                                                   [labels[i] != predicted[i] for i in worst]))
        write_learned_weights(sink, model, data, architecture)
    else:
        sink("decision_boundary", decision_boundary(model, data, f"{run_name}: decision boundary"))
    if writer is not None:
        for index, name in enumerate(data.classes):
            writer.add_pr_curve(f"pr/{name}", test.labels == index, torch.from_numpy(probabilities[:, index]), step)
    return confused
