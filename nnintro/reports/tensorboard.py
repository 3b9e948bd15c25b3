"""TensorBoard logging: the same metric names as history.csv and metrics.json, plus pictures, hparams,
PR curves and (optionally) weight/gradient histograms."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from nnintro.datasets.base import DatasetBundle


def flatten(prefix: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in flatten(f"{prefix}.{key}" if prefix else key, item).items()}
    if isinstance(value, (list, tuple)):
        return {prefix: str(list(value))}
    return {prefix: value if isinstance(value, (int, float, str, bool)) else str(value)}


class TensorBoardObserver:
    def __init__(self, run_dir: Path, model: nn.Module, data: DatasetBundle, histograms: bool) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run_dir))
        self.model, self.data, self.histograms = model, data, histograms

    def on_epoch_end(self, row: dict[str, float]) -> None:
        epoch = int(row["epoch"])
        for key, value in row.items():
            if key != "epoch":
                self.writer.add_scalar(key if "/" in key else f"train/{key}", value, epoch)
        if self.data.kind == "points":  # scrub through the boundary's evolution in the Images tab
            from nnintro.reports.classification import boundary_image

            self.writer.add_image("decision_boundary/epoch", boundary_image(self.model, self.data), epoch,
                                  dataformats="HWC")
        if self.histograms:
            for name, parameter in self.model.named_parameters():
                self.writer.add_histogram(f"weights/{name}", parameter.detach(), epoch)
                if parameter.grad is not None:
                    self.writer.add_histogram(f"gradients/{name}", parameter.grad, epoch)
        self.writer.flush()

    def write_hparams(self, config: dict[str, Any], metrics: dict[str, Any]) -> None:
        """Config values -> final metrics, written into this run's own event file for the HParams tab."""
        from torch.utils.tensorboard.summary import hparams

        # the kept (best) weights' numbers; val/final_* so the per-epoch val/* curves get no extra point
        final = {**{f"test/{k}": v for k, v in metrics["test"].items()},
                 **{f"val/final_{k}": v for k, v in metrics["val"].items()}}
        experiment, start, end = hparams(flatten("", config), final)
        file_writer = self.writer._get_file_writer()
        for summary in (experiment, start, end):
            file_writer.add_summary(summary)
        for tag, value in final.items():
            self.writer.add_scalar(tag, value, metrics["epochs_run"])

    def close(self) -> None:
        self.writer.close()
