"""Loss registry. Every loss maps logits and integer labels to one loss per sample.

mse, l1, kl_div and bce compare the model's output with one-hot targets, as the course does:
mse/l1 on softmax probabilities, kl_div on log-softmax, bce on per-class sigmoids.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _one_hot(labels: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    return F.one_hot(labels, logits.shape[1]).to(logits.dtype)


def _cross_entropy(label_smoothing: float) -> LossFn:
    return lambda logits, y: F.cross_entropy(logits, y, reduction="none", label_smoothing=label_smoothing)


LOSSES: dict[str, Callable[[float], LossFn]] = {
    "cross_entropy": _cross_entropy,
    "nll": lambda _: lambda logits, y: F.nll_loss(F.log_softmax(logits, 1), y, reduction="none"),
    "mse": lambda _: lambda logits, y: (F.softmax(logits, 1) - _one_hot(y, logits)).square().mean(1),
    "l1": lambda _: lambda logits, y: (F.softmax(logits, 1) - _one_hot(y, logits)).abs().mean(1),
    "kl_div": lambda _: lambda logits, y: F.kl_div(F.log_softmax(logits, 1), _one_hot(y, logits), reduction="none").sum(1),
    "bce": lambda _: lambda logits, y: F.binary_cross_entropy_with_logits(logits, _one_hot(y, logits), reduction="none").mean(1),
}


def per_sample_loss(loss_config) -> LossFn:
    """The configured loss, one value per sample (the trainer averages; reports rank them)."""
    return LOSSES[loss_config.name](loss_config.label_smoothing)


def batch_mean_loss(loss_config) -> LossFn:
    """The loss the trainer minimises: the batch mean (cross-entropy's own fused mean where it applies)."""
    if loss_config.name == "cross_entropy":
        return lambda logits, y: F.cross_entropy(logits, y, label_smoothing=loss_config.label_smoothing)
    per_sample = per_sample_loss(loss_config)
    return lambda logits, y: per_sample(logits, y).mean()
