"""Classification: integer labels, one logit per class, accuracy (higher is better), top-k predictions.

mse, l1, kl_div and bce compare the model's output with one-hot targets, as the course does:
mse/l1 on softmax probabilities, kl_div on log-softmax, bce on per-class sigmoids.
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from nnintro.tasks.base import LossFn, SplitOutputs, Task


def _one_hot(labels: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    return F.one_hot(labels, logits.shape[1]).to(logits.dtype)


def _cross_entropy(label_smoothing: float) -> LossFn:
    return lambda logits, y: F.cross_entropy(logits, y, reduction="none", label_smoothing=label_smoothing)


LOSSES = {
    "cross_entropy": _cross_entropy,
    "nll": lambda _: lambda logits, y: F.nll_loss(F.log_softmax(logits, 1), y, reduction="none"),
    "mse": lambda _: lambda logits, y: (F.softmax(logits, 1) - _one_hot(y, logits)).square().mean(1),
    "l1": lambda _: lambda logits, y: (F.softmax(logits, 1) - _one_hot(y, logits)).abs().mean(1),
    "kl_div": lambda _: lambda logits, y: F.kl_div(F.log_softmax(logits, 1), _one_hot(y, logits),
                                                   reduction="none").sum(1),
    "bce": lambda _: lambda logits, y: F.binary_cross_entropy_with_logits(logits, _one_hot(y, logits),
                                                                          reduction="none").mean(1),
}


class Classification(Task):
    name = "classification"
    losses = LOSSES
    default_loss = "cross_entropy"
    running_metric = "accuracy"
    headline = "accuracy"
    higher_is_better = {"loss": False, "accuracy": True}

    def __init__(self, classes: list[str]) -> None:
        self.classes = list(classes)

    @property
    def width(self) -> int:
        return len(self.classes)

    def describe(self) -> dict[str, Any]:
        return {"task": self.name, "classes": self.classes}

    def per_sample_loss(self, loss_config: Any) -> LossFn:
        return LOSSES[self.loss_name(loss_config)](loss_config.label_smoothing)

    def running_sum(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (out.argmax(-1) == y).sum(-1)

    def combine(self, outputs: torch.Tensor) -> torch.Tensor:
        # log of the members' mean probabilities: softmax of it is that mean, argmax its vote, and the
        # losses read it as they read logits
        return torch.logsumexp(F.log_softmax(outputs.float(), -1), 0) - math.log(len(outputs))

    def metrics(self, outputs: SplitOutputs) -> dict[str, float]:
        correct = (outputs.outputs.argmax(1) == outputs.targets).float()
        return {"loss": outputs.loss, "accuracy": float(correct.mean()) if len(correct) else float("nan")}

    def learned_nothing(self, metrics: dict[str, float]) -> str | None:
        chance = 1 / self.width
        if metrics["accuracy"] <= 1.2 * chance:
            return f"accuracy {metrics['accuracy']:.3f} is chance level for {self.width} classes ({chance:.3f})"
        return None

    def finish(self, outputs: torch.Tensor) -> torch.Tensor:
        return torch.softmax(outputs.float(), 1)

    def target_text(self, target: torch.Tensor) -> list[str]:
        return [self.classes[int(target)]]

    def predictions(self, outputs: torch.Tensor, top_k: int) -> list[dict[str, Any]]:
        probabilities = self.finish(outputs)
        values, indices = probabilities.topk(max(1, min(top_k, self.width)), dim=1)
        results = []
        for row_values, row_indices in zip(values.tolist(), indices.tolist()):
            top = [[self.classes[i], round(p, 6)] for p, i in zip(row_values, row_indices)]
            results.append({"prediction": top[0][0], "probability": top[0][1], "top_k": top})
        return results

    def format_prediction(self, item: dict[str, Any]) -> str:
        ranked = ", ".join(f"{name} {p:.3f}" for name, p in item["top_k"])
        return f"{item['prediction']} ({item['probability']:.3f})   top-{len(item['top_k'])}: {ranked}"
