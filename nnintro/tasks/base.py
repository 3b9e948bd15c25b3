"""What a task decides, so that the trainer, evaluation, reports, compare and sweep ask instead of testing.

A task owns: the output width, the losses it allows (and its default), the metrics it reports with the
direction that is better, the running training metric, what a prediction looks like, and its pictures.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class SplitOutputs:
    """A model's outputs on one split, on the CPU: outputs (N, width), targets as the data holds them."""

    outputs: torch.Tensor
    targets: torch.Tensor
    losses: torch.Tensor  # one per sample

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def loss(self) -> float:
        return float(self.losses.mean()) if self.losses.numel() else float("nan")

    @property
    def members(self) -> list[SplitOutputs]:
        """A pack's outputs (K, N, width) as each member's own SplitOutputs."""
        return [SplitOutputs(outputs, self.targets, losses) for outputs, losses in zip(self.outputs, self.losses)]


class Task(ABC):
    name: str
    losses: dict[str, Callable[..., LossFn]]  # loss name -> factory; the schema accepts the union over tasks
    default_loss: str
    running_metric: str  # the training-time metric beside the loss in history.csv: train/<it>, val/<it>
    headline: str  # the one number compare and sweep rank by (a key of metrics())
    higher_is_better: dict[str, bool]  # every metric metrics() returns, and its direction

    @property
    @abstractmethod
    def width(self) -> int:
        """The model's output width."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """What model.json records so that task_from_info can rebuild this task."""

    def fit(self, train_targets: torch.Tensor) -> Task:
        """This task with whatever it learns from the training targets (regression: their mean and std)."""
        return self

    def output_scale(self) -> dict[str, list[float]] | None:
        """Mean and std the model's last layer maps its outputs to (None: outputs are used as they are)."""
        return None

    @abstractmethod
    def per_sample_loss(self, loss_config: Any) -> LossFn: ...

    @abstractmethod
    def running_sum(self, out: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """A batch's contribution to the running metric, per member: out (K, B, width) -> (K,) sums over the
        batch (then divided by N); weights (K, B): which samples count for which member (data.folds)."""

    @abstractmethod
    def metrics(self, outputs: SplitOutputs) -> dict[str, float]:
        """The split's numbers; 'loss' and the running metric always among them."""

    @abstractmethod
    def combine(self, outputs: torch.Tensor) -> torch.Tensor:
        """A pack's outputs (K, B, width) -> the ensemble's (B, width), in the form a single model's take."""

    def finish(self, outputs: torch.Tensor) -> torch.Tensor:
        """The model's outputs as a user reads them (probabilities for classes); what export ends in."""
        return outputs

    @abstractmethod
    def predictions(self, outputs: torch.Tensor, top_k: int) -> list[dict[str, Any]]:
        """One JSON-able object per row of model outputs."""

    @abstractmethod
    def target_text(self, target: torch.Tensor) -> list[str]:
        """One sample's target as a user reads it, one text per target column."""

    @abstractmethod
    def format_prediction(self, item: dict[str, Any]) -> str:
        """The console text for one prediction object."""

    @abstractmethod
    def learned_nothing(self, metrics: dict[str, float]) -> str | None:
        """Why a split's metrics are no better than guessing (a sentence), or None."""

    def with_class_names(self, names: list[str]) -> Task:
        """This task with its classes renamed (data.class_names); only a classification has classes."""
        from nnintro.errors import ConfigError

        raise ConfigError(f"data.class_names: names classes; a {self.name} task has none (leave it out)")

    def loss_name(self, loss_config: Any) -> str:
        """The configured loss, checked against this task (auto: the task's default)."""
        from nnintro.errors import ConfigError

        name = self.default_loss if loss_config.name == "auto" else loss_config.name
        if name not in self.losses:
            raise ConfigError(f"loss.name: '{name}' does not fit a {self.name} task "
                              f"(valid: auto, {', '.join(self.losses)})")
        return name

    def check_monitor(self, monitor: str) -> str:
        """train.early_stopping.monitor -> the metric it names, checked against this task."""
        from nnintro.errors import ConfigError

        metric = monitor.removeprefix("val_")
        if metric not in self.higher_is_better:
            valid = ", ".join(f"val_{m}" for m in self.higher_is_better)
            raise ConfigError(f"train.early_stopping.monitor: '{monitor}' is not a {self.name} metric (valid: {valid})")
        return metric
