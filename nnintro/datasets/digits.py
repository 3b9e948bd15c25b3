"""scikit-learn's bundled 8x8 digits: the offline default, no download."""
from __future__ import annotations

import torch

from nnintro.datasets.base import RawDataset, Split
from nnintro.tasks import Classification

TEST_SIZE = 360  # a fixed, stratified 20% test split: the same for every config and seed
INK_BOX = 1.0  # these digits fill their 8x8 frame (MNIST's sit in 20/28 of it): predict --center scales a drawing so


def load_digits_dataset() -> RawDataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.uint8).unsqueeze(1)  # values 0..16
    labels = torch.tensor(digits.target, dtype=torch.long)
    train_idx, test_idx = train_test_split(range(len(labels)), test_size=TEST_SIZE, stratify=digits.target,
                                           random_state=0)
    train_idx, test_idx = torch.tensor(sorted(train_idx)), torch.tensor(sorted(test_idx))
    return RawDataset(Split(images[train_idx], labels[train_idx]), Split(images[test_idx], labels[test_idx]),
                      Classification([str(d) for d in range(10)]), scale=1 / 16, kind="image",
                      inputs={"ink_box": INK_BOX})
