"""MNIST, Fashion-MNIST and CIFAR-10 from torchvision's on-disk layout, downloaded through torchvision.

The files are parsed here (IDX, CIFAR's pickled batches) rather than through torchvision's dataset
classes so that a missing, truncated or corrupt file gets a message naming it, and so CIFAR's
pickles are read with an unpickler that can only build numpy arrays.
"""
from __future__ import annotations

import gzip
import io
import pickle
import zlib
from pathlib import Path

import numpy as np
import torch

from nnintro.datasets.base import RawDataset, Split
from nnintro.errors import DataError
from nnintro.tasks import Classification

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _download(dataset_class_name: str, root: Path) -> None:
    """Fetch the official files with torchvision (which checks their md5 sums)."""
    import torchvision.datasets

    dataset_class = getattr(torchvision.datasets, dataset_class_name)
    try:
        for train in (True, False):
            dataset_class(str(root), train=train, download=True)
    except Exception as err:  # network errors come in many types; all mean the same to the user
        first = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
        raise DataError(f"downloading {dataset_class_name} into {root} failed ({first}); check the connection and "
                        f"retry, or place the files there yourself and set data.download: false (offline)") from err


def _read_bytes(path: Path) -> bytearray:
    """The whole (decompressed) file in one preallocated buffer: no intermediate copies of the dataset."""
    try:
        if path.suffix == ".gz":
            with path.open("rb") as handle:  # gzip's trailer holds the decompressed size (mod 2**32)
                handle.seek(-4, 2)
                size = int.from_bytes(handle.read(4), "little")
            if size > 1100 * path.stat().st_size:  # deflate cannot compress more than ~1032:1
                raise EOFError("the gzip trailer is inconsistent with the file size (truncated?)")
            buffer = bytearray(size)
            with gzip.open(path, "rb") as handle:
                read = handle.readinto(buffer)
                if read < size or handle.read(1):
                    raise EOFError("decompressed size differs from the size in the gzip trailer")
            return buffer
        return bytearray(path.read_bytes())
    except (OSError, EOFError, gzip.BadGzipFile, ValueError, zlib.error) as err:
        raise DataError(f"{path}: cannot read, the file is damaged ({err}); download it again") from err


def read_idx(path: Path, ndim: int) -> torch.Tensor:
    """Parse an IDX file of unsigned bytes (MNIST's format), plain or gzipped."""
    raw = _read_bytes(path)
    if len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path}: truncated IDX file ({len(raw)} bytes)")
    zero, dtype_code, file_ndim = int.from_bytes(raw[0:2], "big"), raw[2], raw[3]
    if zero != 0 or dtype_code != 0x08 or file_ndim != ndim:
        raise DataError(f"{path}: wrong IDX magic number {raw[:4].hex()} (expected 000008{ndim:02x}: "
                        f"unsigned bytes, {ndim} dimensions)")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    expected = 4 + 4 * ndim + int(np.prod(dims))
    if len(raw) != expected:
        raise DataError(f"{path}: {'truncated' if len(raw) < expected else 'too long'}: header says "
                        f"{'x'.join(map(str, dims))} values ({expected} bytes), file has {len(raw)} bytes")
    return torch.frombuffer(raw, dtype=torch.uint8, offset=4 + 4 * ndim).reshape(dims)


def _find_idx(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def load_idx_dataset(root: str, folder_name: str, dataset_class_name: str, classes: list[str],
                     download: bool) -> RawDataset:
    """MNIST-format data from ROOT/<folder_name>/raw/ (files plain or .gz)."""
    folder = Path(root) / folder_name / "raw"
    stems = [stem for pair in IDX_FILES.values() for stem in pair]
    if download and any(_find_idx(folder, stem) is None for stem in stems):
        _download(dataset_class_name, Path(root))
    missing = [stem for stem in stems if _find_idx(folder, stem) is None]
    if missing:
        raise DataError(f"{dataset_class_name} files not found in {folder}/: missing {', '.join(missing)} (.gz or "
                        f"uncompressed); set data.download: true to fetch them, or data.root to where they are")
    splits = {}
    for split, (image_stem, label_stem) in IDX_FILES.items():
        image_path, label_path = _find_idx(folder, image_stem), _find_idx(folder, label_stem)
        images, labels = read_idx(image_path, 3), read_idx(label_path, 1)
        if len(images) != len(labels):
            raise DataError(f"{label_path}: {len(labels)} labels for {len(images)} images in {image_path.name}")
        if len(labels) and int(labels.max()) >= len(classes):
            raise DataError(f"{label_path}: label {int(labels.max())} out of range 0..{len(classes) - 1}")
        splits[split] = Split(images.unsqueeze(1), labels.long())
    return RawDataset(splits["train"], splits["test"], Classification(classes), scale=1 / 255, kind="image")


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """CIFAR's batches are pickles; this one can only rebuild numpy arrays, never run other code."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def read_cifar_batch(path: Path) -> Split:
    try:
        batch = _ArraysOnlyUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror or err})") from err
    except Exception as err:  # a corrupt pickle raises nearly anything
        raise DataError(f"{path}: not a readable CIFAR-10 batch ({type(err).__name__}: {err})") from err
    if isinstance(batch, dict):  # batches re-saved by Python 3 have str keys; the originals have bytes
        batch = {key.encode() if isinstance(key, str) else key: value for key, value in batch.items()}
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DataError(f"{path}: not a CIFAR-10 batch (expected a dict with 'data' and 'labels')")
    data, labels = batch[b"data"], batch[b"labels"]
    if not isinstance(labels, (list, tuple, np.ndarray)) or not all(isinstance(v, (int, np.integer)) for v in labels):
        raise DataError(f"{path}: 'labels' must be a list of whole class indices")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{path}: b'data' must be a uint8 array of shape (N, 3072)")
    if len(labels) != len(data):
        raise DataError(f"{path}: {len(labels)} labels for {len(data)} images")
    y = torch.tensor(list(labels), dtype=torch.long)
    if len(y) and not (0 <= int(y.min()) and int(y.max()) < 10):
        raise DataError(f"{path}: labels must be in 0..9")
    return Split(torch.from_numpy(data.copy()).reshape(-1, 3, 32, 32), y)


CIFAR_FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


def load_cifar10(root: str, download: bool) -> RawDataset:
    folder = Path(root) / "cifar-10-batches-py"
    names = [name for group in CIFAR_FILES.values() for name in group]
    if download and any(not (folder / name).is_file() for name in names):
        _download("CIFAR10", Path(root))
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise DataError(f"CIFAR-10 files not found in {folder}/: missing {', '.join(missing)}; set "
                        f"data.download: true to fetch them, or data.root to the folder holding cifar-10-batches-py/")
    splits = {}
    for split, group in CIFAR_FILES.items():
        parts = [read_cifar_batch(folder / name) for name in group]
        splits[split] = Split(torch.cat([p.x for p in parts]), torch.cat([p.y for p in parts]))
    return RawDataset(splits["train"], splits["test"], Classification(CIFAR10_CLASSES), scale=1 / 255, kind="image")
