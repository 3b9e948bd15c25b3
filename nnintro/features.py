"""The TensorFlow Playground's input features: functions of a 2-D point (x1, x2).

Used by the model (its first layer computes them, so a saved run takes raw points) and by the data
(feature statistics for standardization); it depends on neither.
"""
from __future__ import annotations

import torch

FEATURES = {
    "x1": lambda p: p[:, 0],
    "x2": lambda p: p[:, 1],
    "x1^2": lambda p: p[:, 0] ** 2,
    "x2^2": lambda p: p[:, 1] ** 2,
    "x1*x2": lambda p: p[:, 0] * p[:, 1],
    "sin(x1)": lambda p: torch.sin(p[:, 0]),
    "sin(x2)": lambda p: torch.sin(p[:, 1]),
}


def playground_features(points: torch.Tensor, names: list[str]) -> torch.Tensor:
    return torch.stack([FEATURES[name](points) for name in names], 1)
