"""Metrics and predictions on a split: one function computes loss, accuracy and probabilities for all."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from nnintro.datasets.base import Split
from nnintro.datasets.batches import eval_batches
from nnintro.losses import LossFn


@dataclass
class SplitOutputs:
    logits: torch.Tensor  # (N, classes), on the CPU
    labels: torch.Tensor
    losses: torch.Tensor  # per sample

    @property
    def loss(self) -> float:
        return float(self.losses.mean()) if len(self.losses) else float("nan")

    @property
    def predictions(self) -> torch.Tensor:
        return self.logits.argmax(1)

    @property
    def accuracy(self) -> float:
        return float((self.predictions == self.labels).float().mean()) if len(self.labels) else float("nan")

    def metrics(self) -> dict[str, float]:
        return {"accuracy": self.accuracy, "loss": self.loss}


@torch.inference_mode()
def run_split(model: nn.Module, split: Split, loss_fn: LossFn, batch_size: int) -> SplitOutputs:
    """Forward the whole split in large batches; results come back to the CPU once."""
    was_training = model.training
    model.eval()
    logits, losses = [], []
    for x, y in eval_batches(split, batch_size):
        out = model(x).float()
        logits.append(out)
        losses.append(loss_fn(out, y))
    model.train(was_training)
    if not logits:
        return SplitOutputs(torch.empty(0, 0), split.y.cpu(), torch.empty(0))
    return SplitOutputs(torch.cat(logits).cpu(), split.y.cpu(), torch.cat(losses).cpu())
