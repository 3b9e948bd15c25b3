"""The files every run gets (and what eval writes): the curves, then the pictures and tables of the
run's task. Each picture goes to the run folder and, when given a writer, to TensorBoard's Images tab."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from nnintro.datasets.base import DatasetBundle
from nnintro.files import write_atomic
from nnintro.reports import classification, plots, regression
from nnintro.reports.sink import FigureSink
from nnintro.reports.tables import TableSpec
from nnintro.run_folder.layout import read_steps
from nnintro.tasks import SplitOutputs, Task

TASK_REPORTS = {"classification": classification, "regression": regression}  # each: run_report, split_report, split_tables


def write_run_report(run_dir: Path, model: nn.Module, data: DatasetBundle, test: SplitOutputs,
                     history: list[dict], best_epoch: int, stopped_early: bool, architecture: dict,
                     examples: int, run_name: str, writer: Any = None,
                     frames: list[tuple[int, Any]] | None = None, strip_epochs: set[int] = frozenset(),
                     augmenter: Any = None, untrained: Callable[[], nn.Module] | None = None) -> dict[str, Any]:
    """Every picture for a finished run; returns what the task adds to metrics.json (most-confused pairs).
    frames: (epoch, image) pictures taken during training (the 2-D sets' boundary, epoch 0: untrained), drawn as
    an animation and, for strip_epochs, as one strip;
    augmenter: the training split's augmentation, drawn on a few training images;
    untrained: builds the model as it was before training (for the pictures that show both)."""
    sink = FigureSink(run_dir, writer, len(history))
    if augmenter is not None:
        sink("augmented_samples", augmented_figure(augmenter, data, run_name))
    if history:
        sink("curves", plots.curves_figure(history, best_epoch, stopped_early, run_name, data.task.running_metric))
    steps = read_steps(run_dir)
    if steps:
        sink("loss_per_step", plots.step_loss_figure(steps, run_name))
    if frames:
        captions = [("untrained" if epoch == 0 else f"epoch {epoch}", image) for epoch, image in frames]
        strip = [frame for (epoch, _), frame in zip(frames, captions) if epoch in strip_epochs]
        sink("decision_boundary_epochs", plots.frames_figure(strip, f"{run_name}: the decision boundary as it forms"))
        write_atomic(run_dir / "decision_boundary.gif", plots.animation_gif(captions))
    return TASK_REPORTS[data.task.name].run_report(sink, model, data, test, examples, architecture, run_name,
                                                   untrained)


def augmented_figure(augmenter: Any, data: DatasetBundle, title: str, count: int = 6, variants: int = 5) -> Any:
    """Training images (first column) and augmented versions of each, as the network sees them."""
    from nnintro.datasets.augment import augmented_examples
    from nnintro.reports.classification import spread_over_classes

    labels = data.train.y.cpu().numpy()
    chosen = spread_over_classes(labels, count) if data.task.name == "classification" else list(range(count))
    images = augmented_examples(augmenter, data.train.x[chosen], variants).cpu().numpy()
    captions = [("original" if i % (variants + 1) == 0 else "augmented") for i in range(len(images))]
    return plots.image_grid_figure(images, data.normalization["scale"], captions,
                                   f"{title}: what the network sees (data.augment)", columns=variants + 1)


def write_split_report(folder: Path, task: Task, outputs: SplitOutputs, title: str) -> dict[str, Any]:
    """eval's pictures for one split; returns the task's extra numbers (per class or per target)."""
    return TASK_REPORTS[task.name].split_report(FigureSink(folder), task, outputs, title)


def split_tables(task: Task, metrics: dict[str, Any], title: str) -> list[TableSpec]:
    """The tables eval prints, described once (rendered by the CLI)."""
    return TASK_REPORTS[task.name].split_tables(metrics, title)
