"""TensorBoard logging: the same metric names as history.csv and metrics.json, plus pictures, hparams,
PR curves and (optionally) weight/gradient histograms."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from nnintro.datasets.base import DatasetBundle
from nnintro.models.layers import readable_names, user_model


def flatten(prefix: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in flatten(f"{prefix}.{key}" if prefix else key, item).items()}
    if isinstance(value, (list, tuple)):
        return {prefix: str(list(value))}
    return {prefix: value if isinstance(value, (int, float, str, bool)) else str(value)}


ANIMATION_FRAMES = 60  # the decision boundary's GIF: at most about this many epochs, dense at the start
IMAGES_KEPT = 10  # TensorBoard shows at most this many images per tag unless started with --samples_per_plugin


def chosen_epochs(epochs: int, count: int = IMAGES_KEPT) -> set[int]:
    """At most `count` epochs, dense at the start where a boundary forms, spaced out later, and the last."""
    return {max(1, round(epochs ** (i / (count - 1)))) for i in range(count)} | {epochs}


def hparams_that_matter(config: dict[str, Any]) -> dict[str, Any]:
    """The config values that tell runs apart: what differs from the defaults, plus the few always worth
    seeing; a linear model's unused hidden/activation/dropout are left out."""
    from nnintro.config import validate

    defaults = flatten("", validate({}).model_dump(mode="json"))
    values = flatten("", config)
    core = {"data.dataset", "model.kind", "optimizer.name", "optimizer.lr", "data.batch_size", "seed"}
    if config["model"]["kind"] == "mlp":
        core |= {"model.hidden", "model.activation"}
    unused = {"model.hidden", "model.activation", "model.dropout"} if config["model"]["kind"] == "linear" else set()
    return {key: value for key, value in values.items()
            if (key in core or defaults.get(key) != value) and key not in unused}


class TensorBoardObserver:
    def __init__(self, run_dir: Path, model: nn.Module, data: DatasetBundle, histograms: bool, epochs: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run_dir))
        self.model, self.data, self.histograms = model, data, histograms
        self.view = user_model(model, data.task.combine)  # the ensemble, for a pack
        self.boundary_epochs = chosen_epochs(epochs) | {0}  # in TensorBoard and the strip; 0: untrained
        self.animated_epochs = chosen_epochs(epochs, ANIMATION_FRAMES) | self.boundary_epochs  # frames taken
        # (epoch, image), from the untrained model (epoch 0) on: the strip and the animation in the run folder
        self.boundary_frames: list[tuple[int, Any]] = []
        if data.kind == "points":
            self._take_frame(0)
        if data.kind == "image":
            self._show_training_images()
        self.names = readable_names(model)

    def _show_training_images(self, classes: int = 20, per_class: int = 8) -> None:
        """Look at the data first: a few training images of each class, one Images card per class name (as they
        are stored, before the model standardizes them)."""
        labels = self.data.train.y
        for index, name in enumerate(self.data.task.classes[:classes]):
            chosen = (labels == index).nonzero().flatten()[:per_class]
            if len(chosen):
                images = self.data.train.x[chosen].float() * self.data.normalization["scale"]
                self.writer.add_images(f"data/{name}", images.clamp(0, 1).cpu(), 0, dataformats="NCHW")

    def _take_frame(self, epoch: int) -> None:
        from nnintro.reports.classification import boundary_image

        frame = boundary_image(self.view, self.data)
        self.boundary_frames.append((epoch, frame))
        if epoch in self.boundary_epochs:  # scrub through them in the Images tab
            self.writer.add_image("decision_boundary/epoch", frame, epoch, dataformats="HWC")

    def on_epoch_steps(self, epoch: int, losses: list[float]) -> None:
        """Every step's training loss: the per-iteration curve (its x counts steps from the run's start)."""
        for step, loss in enumerate(losses, 1):
            self.writer.add_scalar("train/step_loss", loss, (epoch - 1) * len(losses) + step)

    def on_epoch_end(self, row: dict[str, float]) -> None:
        epoch = int(row["epoch"])
        for key, value in row.items():
            if key != "epoch":
                self.writer.add_scalar(key if "/" in key else f"train/{key}", value, epoch)
        if self.data.kind == "points" and epoch in self.animated_epochs:
            self._take_frame(epoch)
        if self.histograms:
            for name, parameter in self.model.named_parameters():
                index, _, kind = name.partition(".")
                readable = f"{self.names.get(index, index)}.{kind}"
                self.writer.add_histogram(f"weights/{readable}", parameter.detach(), epoch)
                if parameter.grad is not None:
                    self.writer.add_histogram(f"gradients/{readable}", parameter.grad, epoch)
        self.writer.flush()

    def write_hparams(self, config: dict[str, Any], metrics: dict[str, Any]) -> None:
        """Config values -> final metrics, written into this run's own event file for the HParams tab."""
        from torch.utils.tensorboard.summary import hparams

        # the kept (best) weights' numbers; val/final_* so the per-epoch val/* curves get no extra point
        final = {**{f"test/{k}": v for k, v in metrics["test"].items()},
                 **{f"val/final_{k}": v for k, v in metrics["val"].items()}}
        experiment, start, end = hparams(hparams_that_matter(config), final)
        file_writer = self.writer._get_file_writer()
        for summary in (experiment, start, end):
            file_writer.add_summary(summary)
        # one number each: a table in the Text tab (and the HParams tab), not one-dot charts on the Scalars page,
        # which then opens on the learning curves (train/, val/)
        lines = ["| metric | value |", "|---|---|", *(f"| {tag} | {value:.6g} |" for tag, value in final.items()
                                                    if isinstance(value, (int, float)))]
        for row in metrics.get("layers", []):  # dead or saturated share of each hidden activation
            lines += [f"| {row['layer']} {key} | {row[key]:.3f} |" for key in ("dead", "saturated") if key in row]
        self.writer.add_text("summary", "\n".join(lines), metrics["epochs_run"])

    def close(self) -> None:
        self.writer.close()
