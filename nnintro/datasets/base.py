"""The one in-memory form every dataset takes: tensors for train/val/test, class names, normalization."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class Split:
    x: torch.Tensor  # uint8 images (N, C, H, W) or float32 features (N, F)
    y: torch.Tensor  # int64 labels (N,)

    def __len__(self) -> int:
        return len(self.y)

    def to(self, device: torch.device | str) -> "Split":
        return Split(self.x.to(device), self.y.to(device))


@dataclass
class RawDataset:
    """What a loader returns: the official train and test splits, before validation is carved out."""

    train: Split
    test: Split
    classes: list[str]
    scale: float  # multiplies raw values into [0, 1] (1/255 for pixels); 1.0 for features
    kind: str  # "image" or "points"


@dataclass
class DatasetBundle:
    name: str
    train: Split
    val: Split
    test: Split
    classes: list[str]
    kind: str
    normalization: dict = field(default_factory=dict)  # {"scale", "mean": [per channel], "std": [...]}

    @property
    def input_shape(self) -> list[int]:
        return list(self.train.x.shape[1:])

    def split(self, name: str) -> Split:
        return {"train": self.train, "val": self.val, "test": self.test}[name]

    def to(self, device: torch.device | str) -> "DatasetBundle":
        return DatasetBundle(self.name, self.train.to(device), self.val.to(device), self.test.to(device),
                             self.classes, self.kind, self.normalization)


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


def carve_validation(raw: RawDataset, val_size: float, seed: int, name: str) -> DatasetBundle:
    """Hold out val_size (fraction, or count) of train, chosen by the seed; normalization from what is left."""
    n = len(raw.train)
    n_val = int(val_size) if val_size >= 1 else round(n * val_size)
    n_val = min(max(n_val, 1), n - 1)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    val_idx, train_idx = order[:n_val].sort().values, order[n_val:].sort().values
    train = Split(raw.train.x[train_idx], raw.train.y[train_idx])
    val = Split(raw.train.x[val_idx], raw.train.y[val_idx])
    mean, std = channel_stats(train.x, raw.scale)
    normalization = {"scale": raw.scale, "mean": mean, "std": std}
    return DatasetBundle(name, train, val, raw.test, raw.classes, raw.kind, normalization)
