"""The TensorFlow Playground's 2-D classification sets, generated as its dataset.ts does.

Points live in [-6, 6]^2; `noise` is the Playground's noise slider divided by 100 (0 to 0.5 there).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from nnintro.datasets.base import RawDataset, Split
from nnintro.tasks import Classification


def _xor(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    padding = 0.3
    xy = rng.uniform(-5, 5, size=(n, 2))
    xy += np.where(xy > 0, padding, -padding)
    jitter = rng.uniform(-5, 5, size=(n, 2)) * noise
    labels = ((xy[:, 0] + jitter[:, 0]) * (xy[:, 1] + jitter[:, 1]) >= 0).astype(np.int64)
    return xy, labels


def _circles(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    radius = 5.0
    inner = n // 2
    r = np.concatenate([rng.uniform(0, radius * 0.5, inner), rng.uniform(radius * 0.7, radius, n - inner)])
    angle = rng.uniform(0, 2 * math.pi, n)
    xy = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
    jitter = rng.uniform(-radius, radius, size=(n, 2)) * noise
    labels = (np.linalg.norm(xy + jitter, axis=1) < radius * 0.5).astype(np.int64)
    return xy, labels


def _gaussians(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    variance = 0.5 + (4 - 0.5) * (noise / 0.5 if noise < 0.5 else 1.0)
    half = n // 2
    labels = np.concatenate([np.ones(half, np.int64), np.zeros(n - half, np.int64)])
    centers = np.where(labels[:, None] == 1, 2.0, -2.0)
    return centers + rng.normal(0, math.sqrt(variance), size=(n, 2)), labels


def _spiral(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    half = n // 2
    parts, labels = [], []
    for delta, label, count in ((0.0, 1, half), (math.pi, 0, n - half)):
        i = np.arange(count)
        r = i / count * 5
        t = 1.75 * i / count * 2 * math.pi + delta
        xy = np.stack([r * np.sin(t), r * np.cos(t)], axis=1) + rng.uniform(-1, 1, size=(count, 2)) * noise
        parts.append(xy)
        labels.append(np.full(count, label, np.int64))
    return np.concatenate(parts), np.concatenate(labels)


GENERATORS = {"xor": _xor, "circles": _circles, "gaussians": _gaussians, "spiral": _spiral}

# The Playground's input features, computed from the two coordinates (inside the model, so predict
# takes plain (x1, x2) points).
def load_toy(name: str, n_samples: int, noise: float, seed: int) -> RawDataset:
    """n_samples training points and as many test points, drawn independently from the seed."""
    generate = GENERATORS[name]
    splits = []
    for stream in (0, 1):
        rng = np.random.default_rng([seed, stream])
        xy, labels = generate(rng, n_samples, noise)
        splits.append(Split(torch.tensor(xy, dtype=torch.float32), torch.from_numpy(labels)))
    return RawDataset(splits[0], splits[1], Classification(["negative", "positive"]), scale=1.0, kind="points")
