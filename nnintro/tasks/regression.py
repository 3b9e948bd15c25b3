"""Regression: real-valued targets (one or several columns), errors in the targets' own units.

The model ends in a layer that maps standardized outputs back to target units, so everything it returns
(predictions, metrics, reports) is in those units. The losses divide the error by the targets' training
std: training is exactly training on standardized targets, and the loss is comparable across datasets.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from nnintro.tasks.base import LossFn, SplitOutputs, Task

LOSSES = {
    "mse": lambda z: z.square(),
    "mae": lambda z: z.abs(),
    "huber": lambda z: F.huber_loss(z, torch.zeros_like(z), reduction="none", delta=1.0),
}


class Regression(Task):
    name = "regression"
    losses = LOSSES
    default_loss = "mse"
    running_metric = "mae"
    headline = "rmse"
    higher_is_better = {"loss": False, "mse": False, "rmse": False, "mae": False, "r2": True}

    def __init__(self, targets: list[str], mean: list[float] | None = None, std: list[float] | None = None) -> None:
        self.targets = list(targets)
        self.mean = list(mean) if mean is not None else [0.0] * len(self.targets)
        self.std = list(std) if std is not None else [1.0] * len(self.targets)
        self._std_on: dict[torch.device, torch.Tensor] = {}

    @property
    def width(self) -> int:
        return len(self.targets)

    def describe(self) -> dict[str, Any]:
        return {"task": self.name, "targets": self.targets}

    def fit(self, train_targets: torch.Tensor) -> Regression:
        values = train_targets.double()
        return Regression(self.targets, values.mean(0).tolist(), values.std(0).clamp_min(1e-12).tolist())

    def output_scale(self) -> dict[str, list[float]]:
        return {"mean": self.mean, "std": self.std}

    def _std(self, device: torch.device) -> torch.Tensor:
        if device not in self._std_on:  # one copy per device, not one transfer per step
            self._std_on[device] = torch.tensor(self.std, dtype=torch.float32, device=device)
        return self._std_on[device]

    def per_sample_loss(self, loss_config: Any) -> LossFn:
        if loss_config.class_weight != "none":
            from nnintro.errors import ConfigError

            raise ConfigError("loss.class_weight: weights classes; a regression task has none (leave it at none)")
        elementwise = LOSSES[self.loss_name(loss_config)]
        return lambda out, y: elementwise((out - y) / self._std(out.device)).mean(-1)

    def running_sum(self, out: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        error = (out - y).abs().mean(-1)
        return (error if weights is None else error * weights).sum(-1)

    def combine(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.float().mean(0)

    def metrics(self, outputs: SplitOutputs) -> dict[str, float]:
        if not len(outputs):
            return {"loss": float("nan"), **{name: float("nan") for name in ("mse", "rmse", "mae", "r2")}}
        error = (outputs.outputs.double() - outputs.targets.double())
        mse = error.square().mean(0)
        variance = outputs.targets.double().var(0, unbiased=False)
        r2 = 1 - mse / variance.clamp_min(1e-300)  # per target, then averaged (scikit-learn's uniform_average)
        return {"loss": outputs.loss, "mse": float(mse.mean()), "rmse": float(mse.sqrt().mean()),
                "mae": float(error.abs().mean()), "r2": float(r2.mean())}

    def learned_nothing(self, metrics: dict[str, float]) -> str | None:
        if metrics["r2"] <= 0:
            return f"R² {metrics['r2']:.3f}: no better than predicting the training mean"
        return None

    def target_text(self, target: torch.Tensor) -> list[str]:
        return [f"{float(value):.4g}" for value in target.reshape(-1)]

    def predictions(self, outputs: torch.Tensor, top_k: int) -> list[dict[str, Any]]:
        rows = outputs.double().tolist()
        if self.width == 1:
            return [{"prediction": row[0]} for row in rows]
        return [{"prediction": dict(zip(self.targets, row))} for row in rows]

    def format_prediction(self, item: dict[str, Any]) -> str:
        value = item["prediction"]
        text = (", ".join(f"{k} {v:.5g}" for k, v in value.items()) if isinstance(value, dict)
                else f"{self.targets[0]} {value:.5g}")
        if isinstance(item.get("true"), float):
            text += f"   (true {item['true']:.5g}, residual {item['prediction'] - item['true']:+.5g})"
        return text
