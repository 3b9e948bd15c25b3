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
    higher_is_better = {"loss": False, "accuracy": True, "balanced_accuracy": True, "macro_f1": True}

    def __init__(self, classes: list[str], counts: list[int] | None = None) -> None:
        self.classes = list(classes)
        self.counts = counts  # training rows per class, once fitted: class weights, the majority share

    def with_class_names(self, names: list[str]) -> Classification:
        from nnintro.errors import ConfigError

        if len(names) != self.width:
            raise ConfigError(f"data.class_names: {self.width} classes ({', '.join(self.classes)}) need {self.width} "
                              f"names in that order, got {len(names)}")
        return Classification(names, self.counts)

    def fit(self, train_targets: torch.Tensor) -> Classification:
        counts = torch.bincount(train_targets.cpu().reshape(-1), minlength=self.width).tolist()
        return Classification(self.classes, counts)

    def class_weights(self, loss_config: Any) -> torch.Tensor | None:
        """loss.class_weight as one weight per class (balanced: n / (classes * rows of the class), which averages 1
        over the training rows), or None."""
        from nnintro.errors import ConfigError

        wanted = loss_config.class_weight
        if wanted == "none":
            return None
        if wanted == "balanced":
            counts = torch.tensor(self.counts or [1] * self.width, dtype=torch.float64)
            return (counts.sum() / (self.width * counts.clamp_min(1))).float()
        if len(wanted) != self.width:
            raise ConfigError(f"loss.class_weight: one weight per class ({self.width}: {', '.join(self.classes[:8])}"
                              f"{' ...' if self.width > 8 else ''}), got {len(wanted)}")
        return torch.tensor(wanted, dtype=torch.float32)

    @property
    def width(self) -> int:
        return len(self.classes)

    def describe(self) -> dict[str, Any]:
        return {"task": self.name, "classes": self.classes}

    def per_sample_loss(self, loss_config: Any) -> LossFn:
        loss = LOSSES[self.loss_name(loss_config)](loss_config.label_smoothing)
        weights = self.class_weights(loss_config)
        if weights is None:
            return loss
        on_device: dict[torch.device, torch.Tensor] = {}

        def weighted(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            if y.device not in on_device:  # one copy per device, not one transfer per step
                on_device[y.device] = weights.to(y.device)
            return loss(logits, y) * on_device[y.device][y]

        return weighted

    def running_sum(self, out: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        right = out.argmax(-1) == y
        return (right if weights is None else right * weights).sum(-1)

    def combine(self, outputs: torch.Tensor) -> torch.Tensor:
        # log of the members' mean probabilities: softmax of it is that mean, argmax its vote, and the
        # losses read it as they read logits
        return torch.logsumexp(F.log_softmax(outputs.float(), -1), 0) - math.log(len(outputs))

    def metrics(self, outputs: SplitOutputs) -> dict[str, float]:
        if not len(outputs):
            return {"loss": float("nan"), **{name: float("nan") for name in self.higher_is_better if name != "loss"}}
        predicted = outputs.outputs.argmax(1)
        k = self.width
        confusion = torch.bincount(outputs.targets * k + predicted, minlength=k * k).view(k, k).double()
        hits, true, said = confusion.diagonal(), confusion.sum(1), confusion.sum(0)
        present = true > 0  # as scikit-learn: recall over the classes the split holds
        f1_classes = (true + said) > 0
        f1 = 2 * hits / (true + said).clamp_min(1)
        return {"loss": outputs.loss, "accuracy": float(hits.sum() / len(outputs)),
                "balanced_accuracy": float((hits[present] / true[present]).mean()),
                "macro_f1": float(f1[f1_classes].mean())}

    def recall_per_class(self, outputs: SplitOutputs) -> dict[str, float]:
        predicted = outputs.outputs.argmax(1)
        return {name: float((predicted[outputs.targets == c] == c).float().mean())
                for c, name in enumerate(self.classes) if (outputs.targets == c).any()}

    def rare_classes(self, share: float = 0.1) -> list[str]:
        """Classes with less than this share of the training rows and less than half an even share (ten balanced
        classes are not rare); none before fitting."""
        if not self.counts:
            return []
        total = sum(self.counts)
        limit = min(share, 0.5 / self.width) * total
        return [name for name, count in zip(self.classes, self.counts) if count < limit]

    def learned_nothing(self, metrics: dict[str, float]) -> str | None:
        chance = 1 / self.width
        if metrics["accuracy"] <= 1.2 * chance:
            return f"accuracy {metrics['accuracy']:.3f} is chance level for {self.width} classes ({chance:.3f})"
        if self.counts:
            majority = max(range(self.width), key=lambda c: self.counts[c])
            share = self.counts[majority] / sum(self.counts)
            if metrics["accuracy"] <= share:
                return (f"accuracy {metrics['accuracy']:.3f} is no better than always answering "
                        f"'{self.classes[majority]}' ({share:.3f} of the training rows; balanced accuracy "
                        f"{metrics['balanced_accuracy']:.3f}); for rare classes try --set loss.class_weight=balanced")
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
