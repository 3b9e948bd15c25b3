"""The one in-memory form every dataset takes: tensors for train/val/test, its task, normalization."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from nnintro.errors import DataError
from nnintro.tasks import Task


@dataclass
class Split:
    x: torch.Tensor  # uint8 images (N, C, H, W) or float32 features (N, F)
    y: torch.Tensor  # int64 labels (N,) for classification, float32 targets (N, T) for regression

    def __len__(self) -> int:
        return len(self.y)

    def to(self, device: torch.device | str) -> Split:
        return Split(self.x.to(device), self.y.to(device))


@dataclass
class RawDataset:
    """What a loader returns: the official train and test splits, before validation is carved out."""

    train: Split
    test: Split
    task: Task  # before it has seen the training targets (see Task.fit)
    scale: float  # multiplies raw values into [0, 1] (1/255 for pixels); 1.0 for features
    kind: str  # "image", "points" or "table": what the inputs are, for predict and the pictures
    inputs: dict[str, Any] = field(default_factory=dict)  # what predict needs to read raw inputs (table columns)
    val: Split | None = None  # a validation split the source defines itself (an image folder's val/)
    notes: list[str] = field(default_factory=list)  # what the loader chose or skipped, for the console
    row_splits: list[str] | None = None  # tables: each data row of the file's split (train/val/test/dropped)
    folds: dict[str, torch.Tensor] | None = None  # data.folds: per split, (K, N) which rows are member k's


@dataclass
class DatasetBundle:
    name: str
    train: Split
    val: Split
    test: Split
    task: Task
    kind: str
    normalization: dict = field(default_factory=dict)  # {"scale", "mean": [per channel], "std": [...]}
    inputs: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    row_splits: list[str] | None = None
    folds: dict[str, torch.Tensor] | None = None  # data.folds: the splits hold every row; these say whose it is

    @property
    def sizes(self) -> str:
        """The splits' sizes as the console says them."""
        if self.folds is None:
            return f"{len(self.train)} train / {len(self.val)} val / {len(self.test)} test"
        counts = {split: rows.sum(1).float().mean() for split, rows in self.folds.items()}
        return (f"{len(self.train)} rows in {len(self.folds['test'])} folds (each member ~{counts['train']:.0f} train / "
                f"{counts['val']:.0f} val / {counts['test']:.0f} test)")

    @property
    def input_shape(self) -> list[int]:
        return list(self.train.x.shape[1:])

    def split(self, name: str) -> Split:
        return {"train": self.train, "val": self.val, "test": self.test}[name]

    def to(self, device: torch.device | str) -> DatasetBundle:
        return DatasetBundle(self.name, self.train.to(device), self.val.to(device), self.test.to(device),
                             self.task, self.kind, self.normalization, self.inputs, self.notes, self.row_splits,
                             {k: v.to(device) for k, v in self.folds.items()} if self.folds else None)


def channel_stats(x: torch.Tensor, scale: float) -> tuple[list[float], list[float]]:
    """Per-channel (images) or per-feature (points) mean and std of x * scale.

    uint8 images are summarised through a 256-bin histogram per channel: exact, and no float copy
    of the dataset (which would cost 4x its memory).
    """
    if x.dtype == torch.uint8:
        values = torch.arange(256, dtype=torch.float64) * scale
        means, stds = [], []
        for channel in range(x.shape[1]):
            counts = torch.zeros(256, dtype=torch.float64)
            for chunk in x[:, channel].split(4096):  # bincount widens to int64: keep that copy small
                counts += torch.bincount(chunk.reshape(-1), minlength=256)
            mean = (counts * values).sum() / counts.sum()
            var = (counts * (values - mean) ** 2).sum() / counts.sum()
            means.append(float(mean))
            stds.append(max(float(var.sqrt()), 1e-6))
        return means, stds
    data = x.to(torch.float64) * scale
    return data.mean(0).tolist(), data.std(0).clamp_min(1e-6).tolist()


MIN_SAMPLES = 2  # a split of one sample measures nothing; one of none cannot be trained or scored on


def split_off(split: Split, size: float, seed: int, field: str = "data.val_size") -> tuple[Split, Split]:
    """(rest, held out): size (a fraction, or a count) of the split chosen by the seed, order kept."""
    n = len(split)
    n_held = max(int(size) if size >= 1 else round(n * size), 1)
    if n - n_held < MIN_SAMPLES or n_held < MIN_SAMPLES:
        fix = f"; hold out a count with --set {field}={MIN_SAMPLES}" if n >= 2 * MIN_SAMPLES + 2 else ""
        raise DataError(f"{field}: {size:g} of the training split's {n} samples would hold out {n_held} and keep "
                        f"{max(n - n_held, 0)}; each side needs at least {MIN_SAMPLES}{fix}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    held, rest = order[:n_held].sort().values, order[n_held:].sort().values
    return Split(split.x[rest], split.y[rest]), Split(split.x[held], split.y[held])


def carve_validation(raw: RawDataset, val_size: float, seed: int, name: str) -> DatasetBundle:
    """Hold out val_size (fraction, or count) of train, chosen by the seed, unless the source has its own
    validation split; input normalization and the task's target statistics come from what is left."""
    check_agree(raw, name)
    train, val = (raw.train, raw.val) if raw.val is not None else split_off(raw.train, val_size, seed)
    mean, std = channel_stats(train.x, raw.scale)
    normalization = {"scale": raw.scale, "mean": mean, "std": std}
    return DatasetBundle(name, train, val, raw.test, raw.task.fit(train.y), raw.kind, normalization, raw.inputs,
                         raw.notes, raw.row_splits, raw.folds)


def check_agree(raw: RawDataset, name: str) -> None:
    """Before anything is trained or written: the splits hold samples of one shape, and enough of them."""
    shapes = {split: tuple(part.x.shape[1:]) for split, part in (("train", raw.train), ("test", raw.test),
                                                                 ("val", raw.val)) if part is not None}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{split} {list(shape)}" for split, shape in shapes.items())
        raise DataError(f"{name}: the splits hold inputs of different shapes ({listed})")
    for split, part in (("train", raw.train), ("test", raw.test), ("val", raw.val)):
        if part is not None and len(part) < MIN_SAMPLES:
            raise DataError(f"{name}: the {split} split has {len(part)} sample(s); at least {MIN_SAMPLES} are "
                            f"needed for it to mean anything")
