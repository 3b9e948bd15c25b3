"""Datasets: every family loads once into tensors (a DatasetBundle); batches are index slices."""
from __future__ import annotations

from collections.abc import Callable

from nnintro.datasets.base import DatasetBundle, RawDataset, Split, carve_validation

MNIST_CLASSES = [str(d) for d in range(10)]
POINT_SETS = ("xor", "circles", "gaussians", "spiral")  # the Playground's 2-D sets
SURFACE_SETS = ("plane", "bowl")  # generated regression: y a known function of x1, x2
DEFAULT_POINT_FEATURES = ["x1", "x2"]


def _mnist(cfg, seed: int) -> RawDataset:
    from nnintro.datasets.images import load_idx_dataset

    return load_idx_dataset(cfg.root, "MNIST", "MNIST", MNIST_CLASSES, cfg.download)


def _fashion_mnist(cfg, seed: int) -> RawDataset:
    from nnintro.datasets.images import FASHION_CLASSES, load_idx_dataset

    return load_idx_dataset(cfg.root, "FashionMNIST", "FashionMNIST", FASHION_CLASSES, cfg.download)


def _cifar10(cfg, seed: int) -> RawDataset:
    from nnintro.datasets.images import load_cifar10

    return load_cifar10(cfg.root, cfg.download)


def _digits(cfg, seed: int) -> RawDataset:
    from nnintro.datasets.digits import load_digits_dataset

    return load_digits_dataset()


def _csv(cfg, seed: int) -> RawDataset:
    from nnintro.datasets.tabular import load_csv

    return load_csv(cfg, seed)


def _diabetes(cfg, seed: int) -> RawDataset:
    from nnintro.datasets.tabular import load_diabetes_table

    return load_diabetes_table(cfg, seed)


def _california_housing(cfg, seed: int) -> RawDataset:
    from nnintro.datasets.tabular import load_california_housing

    return load_california_housing(cfg, seed)


def _folder(cfg, seed: int) -> RawDataset:
    from nnintro.datasets.folder import load_image_folder

    return load_image_folder(cfg, seed)


def _toy(name: str) -> Callable:
    def load(cfg, seed: int) -> RawDataset:
        from nnintro.datasets.toy import load_toy

        return load_toy(name, cfg.n_samples, cfg.noise, seed)

    return load


def _surface(name: str) -> Callable:
    def load(cfg, seed: int) -> RawDataset:
        from nnintro.datasets.surfaces import load_surface

        return load_surface(name, cfg, seed)

    return load


DATASETS: dict[str, Callable] = {
    "mnist": _mnist,
    "fashion_mnist": _fashion_mnist,
    "cifar10": _cifar10,
    "digits": _digits,
    **{name: _toy(name) for name in POINT_SETS},
    **{name: _surface(name) for name in SURFACE_SETS},
    "folder": _folder,
    "csv": _csv,
    "diabetes": _diabetes,
    "california_housing": _california_housing,
}


def load_dataset(data_config, seed: int) -> DatasetBundle:
    """Load data_config.dataset (on the CPU), carve validation from train with the seed."""
    raw = DATASETS[data_config.dataset](data_config, seed)
    if data_config.class_names is not None:
        raw.task = raw.task.with_class_names(data_config.class_names)
    bundle = carve_validation(raw, data_config.val_size, seed, data_config.dataset)
    if raw.kind == "points":  # standardize what the model sees: the chosen Playground features
        from nnintro.datasets.base import channel_stats
        from nnintro.features import playground_features

        features = data_config.features or DEFAULT_POINT_FEATURES
        mean, std = channel_stats(playground_features(bundle.train.x, features), 1.0)
        bundle.normalization = {"scale": 1.0, "mean": mean, "std": std, "features": list(features)}
    if data_config.normalize != "dataset":  # the course's fixed (0.5, 0.5), or none (values * scale only)
        channels = len(bundle.normalization["mean"])
        given = (data_config.mean, data_config.std) if data_config.normalize == "fixed" else ([0.0], [1.0])
        mean, std = (list(v) * channels if len(v) == 1 else list(v) for v in given)
        if len(mean) != channels or len(std) != channels:
            from nnintro.errors import ConfigError

            raise ConfigError(f"data.mean/data.std: {data_config.dataset} has {channels} channels or features; "
                              f"give one value or {channels}")
        bundle.normalization = {**bundle.normalization, "mean": mean, "std": std}
    return bundle


__all__ = ["DATASETS", "DatasetBundle", "Split", "load_dataset"]
