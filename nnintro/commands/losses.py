"""`nnintro losses`: the loss functions of the lecture evaluated on the numbers a student gives, each with its
formula. Every value is computed twice, from the formula in numpy and by torch.nn.functional, and the table
says how far apart they are."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from nnintro.errors import ConfigError
from nnintro.reports.tables import Column, TableSpec


@dataclass
class Loss:
    name: str
    formula: str
    by_formula: Callable[[np.ndarray, np.ndarray], float]
    by_torch: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    torch_name: str


def _log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(1, keepdims=True))


def _true_class_nll(z: np.ndarray, y: np.ndarray) -> float:
    """mean(-log softmax(z)[y]): cross-entropy, NLL of the log-softmax and KL from a one-hot target alike."""
    return float(-_log_softmax(z)[np.arange(len(y)), y].mean())


def _rows(text: str, option: str) -> np.ndarray:
    """'1,2,3' (one sample) or '1,2,3; 4,5,6' (one row per sample) -> a (samples, values) array."""
    try:
        rows = [[float(v) for v in row.split(",")] for row in text.split(";")]
    except ValueError:
        raise ConfigError(f"{option}: numbers separated by commas, samples by semicolons, e.g. 2,1,0.1 or "
                          f"'2,1,0.1; 0,3,1'; got {text!r}") from None
    if len({len(row) for row in rows}) != 1:
        raise ConfigError(f"{option}: every sample needs as many numbers, got {[len(row) for row in rows]}")
    array = np.array(rows, dtype=np.float64)
    if not np.isfinite(array).all() or np.abs(array).max() > 1e6:
        raise ConfigError(f"{option}: finite numbers within ±1e6 only, got {text!r}")
    return array


REGRESSION = [
    Loss("MSE", "mean((prediction - target)²)", lambda p, t: float(((p - t) ** 2).mean()),
         lambda p, t: F.mse_loss(p, t), "F.mse_loss"),
    Loss("MAE", "mean(|prediction - target|)", lambda p, t: float(np.abs(p - t).mean()),
         lambda p, t: F.l1_loss(p, t), "F.l1_loss"),
    Loss("Huber (delta 1)", "mean(½e² if |e| <= 1 else |e| - ½), e = prediction - target",
         lambda p, t: float(np.where(np.abs(p - t) <= 1, 0.5 * (p - t) ** 2, np.abs(p - t) - 0.5).mean()),
         lambda p, t: F.huber_loss(p, t, delta=1.0), "F.huber_loss"),
]

CLASSES = [
    Loss("cross-entropy", "mean(-log softmax(z)[y]) = mean(log Σ e^z - z[y])", _true_class_nll,
         lambda z, y: F.cross_entropy(z, y), "F.cross_entropy"),
    Loss("NLL of log-softmax", "mean(-logp[y]), logp = log softmax(z): cross-entropy in two steps", _true_class_nll,
         lambda z, y: F.nll_loss(F.log_softmax(z, 1), y), "F.nll_loss(F.log_softmax)"),
    Loss("KL(one-hot ‖ softmax)", "mean over samples of Σ q log(q / p), q = one-hot(y), p = softmax(z)",
         _true_class_nll,  # 0 log 0 = 0: only the true class's term is left
         lambda z, y: F.kl_div(F.log_softmax(z, 1), F.one_hot(y, z.shape[1]).double(), reduction="batchmean"),
         "F.kl_div(batchmean)"),
    Loss("MSE on probabilities", "mean((softmax(z) - one-hot(y))²)",
         lambda z, y: float(((np.exp(_log_softmax(z)) - np.eye(z.shape[1])[y]) ** 2).mean()),
         lambda z, y: F.mse_loss(F.softmax(z, 1), F.one_hot(y, z.shape[1]).double()), "F.mse_loss(F.softmax)"),
]

DISTRIBUTIONS = [
    Loss("cross-entropy H(q, p)", "mean over samples of -Σ q log p",
         lambda p, q: float(-(q * np.log(p)).sum(1).mean()),
         lambda p, q: F.cross_entropy(torch.log(p), q), "F.cross_entropy(log p, soft targets)"),
    Loss("KL(q ‖ p)", "mean over samples of Σ q log(q / p) = H(q, p) - H(q)",
         lambda p, q: float(np.where(q > 0, q * np.log(np.where(q > 0, q, 1) / p), 0).sum(1).mean()),
         lambda p, q: F.kl_div(torch.log(p), q, reduction="batchmean"), "F.kl_div(batchmean)"),
]


def evaluate(predicted: str | None, logits: str | None, probabilities: str | None, target: str) -> TableSpec:
    """The table for one of the three kinds of output a student can give."""
    given = [name for name, value in (("--predicted", predicted), ("--logits", logits),
                                      ("--probabilities", probabilities)) if value is not None]
    if len(given) != 1:
        raise ConfigError("losses: give exactly one of --predicted (regression), --logits (classes) or "
                          f"--probabilities (distributions){f'; got {given}' if given else ''}")
    option = given[0]
    outputs = _rows(predicted or logits or probabilities, option)
    targets = _rows(target, "--target")
    if logits is not None:
        if targets.shape[0] == 1 and targets.shape[1] == outputs.shape[0]:
            targets = targets.T  # one class per sample, written on one line
        classes = targets.ravel()
        if targets.shape[1] != 1 or len(classes) != len(outputs) or (classes != classes.round()).any() \
                or classes.min() < 0 or classes.max() >= outputs.shape[1]:
            raise ConfigError(f"--target: with --logits, one class index per sample (0 to {outputs.shape[1] - 1}; "
                              f"{len(outputs)} sample(s)), got {target!r}")
        return _table("classification: logits z, true class y", CLASSES, outputs, classes.astype(np.int64))
    if predicted is not None and outputs.shape[0] == 1:  # one line of predictions: one sample each
        outputs, targets = outputs.T, targets.T
    if targets.shape != outputs.shape:
        raise ConfigError(f"--target: needs the shape of {option} ({outputs.shape[0]} sample(s) of "
                          f"{outputs.shape[1]}), got {targets.shape[0]} of {targets.shape[1]}")
    if probabilities is not None:
        for name, array in ((option, outputs), ("--target", targets)):
            if (array < 0).any() or not np.allclose(array.sum(1), 1, atol=1e-6) or (name == option and (array == 0).any()):
                raise ConfigError(f"{name}: each sample must be a probability distribution (non-negative, summing "
                                  f"to 1{'; the model’s p above 0, since log p' if name == option else ''}), "
                                  f"got {probabilities if name == option else target!r}")
        return _table("distributions: the model's p, the target q", DISTRIBUTIONS, outputs, targets)
    return _table("regression: predictions against targets", REGRESSION, outputs, targets)


def _table(title: str, losses: list[Loss], outputs: np.ndarray, targets: np.ndarray) -> TableSpec:
    rows = []
    for loss in losses:
        mine = loss.by_formula(outputs, targets)
        theirs = float(loss.by_torch(torch.from_numpy(outputs), torch.from_numpy(targets)))
        rows.append({"loss": loss.name, "formula": loss.formula, "value": mine, "torch": loss.torch_name,
                     "difference": abs(mine - theirs)})
    return TableSpec(f"{title} ({len(outputs)} sample{'s' if len(outputs) > 1 else ''})", [
        Column("loss", "loss", left=True), Column("formula", "formula", left=True), Column("value", "value", "{:.4f}"),
        Column("torch", "torch computes it with", left=True), Column("difference", "|formula - torch|", "{:.1e}")],
        rows)
