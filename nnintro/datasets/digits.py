"""scikit-learn's bundled 8x8 digits: the offline default, no download. The split is made once with scikit-learn
and kept in the cache folder: importing scikit-learn (and SciPy with it) takes longer than training the default
MLP's first epochs, and the split never changes."""
from __future__ import annotations

from importlib.metadata import version

import torch

from nnintro.datasets.base import RawDataset, Split
from nnintro.datasets.cache import cache_folder, read_tensors, write_tensors
from nnintro.tasks import Classification

TEST_SIZE = 360  # a fixed, stratified 20% test split: the same for every config and seed
INK_BOX = 1.0  # these digits fill their 8x8 frame (MNIST's sit in 20/28 of it): predict --center scales a drawing so
SIZES = {"train": 1437, "test": TEST_SIZE}


def _split_with_sklearn() -> dict[str, torch.Tensor]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.uint8).unsqueeze(1)  # values 0..16
    labels = torch.tensor(digits.target, dtype=torch.long)
    train_idx, test_idx = train_test_split(range(len(labels)), test_size=TEST_SIZE, stratify=digits.target,
                                           random_state=0)
    parts = {"train": torch.tensor(sorted(train_idx)), "test": torch.tensor(sorted(test_idx))}
    return {f"{name}_{kind}": tensor[index] for name, index in parts.items()
            for kind, tensor in (("x", images), ("y", labels))}


def _sane(tensors: dict[str, torch.Tensor]) -> bool:
    """What the split is: 8x8 images of values 0..16 and labels 0..9, in the split's sizes."""
    if sorted(tensors) != sorted(f"{name}_{kind}" for name in SIZES for kind in "xy"):
        return False
    for name, size in SIZES.items():
        x, y = tensors[f"{name}_x"], tensors[f"{name}_y"]
        if (x.dtype != torch.uint8 or tuple(x.shape) != (size, 1, 8, 8) or int(x.max()) > 16
                or y.dtype != torch.long or tuple(y.shape) != (size,) or int(y.min()) < 0 or int(y.max()) > 9):
            return False
    return True


def digits_split() -> dict[str, torch.Tensor]:
    """train_x, train_y, test_x, test_y: from the cache when it holds them intact, else made and cached."""
    path = cache_folder() / f"digits-test{TEST_SIZE}-scikit-learn-{version('scikit-learn')}.safetensors"
    cached = read_tensors(path)
    if isinstance(cached, tuple) and _sane(cached[0]):
        return cached[0]
    tensors = _split_with_sklearn()
    write_tensors(path, tensors, {})
    return tensors


def load_digits_dataset() -> RawDataset:
    tensors = digits_split()
    return RawDataset(Split(tensors["train_x"], tensors["train_y"]), Split(tensors["test_x"], tensors["test_y"]),
                      Classification([str(d) for d in range(10)]), scale=1 / 16, kind="image",
                      inputs={"ink_box": INK_BOX})
