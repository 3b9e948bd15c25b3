"""nnintro: train linear baselines and MLPs on MNIST, Fashion-MNIST, CIFAR-10, teaching datasets and your own
images and tables. From Python: `nnintro.train(...)` and `nnintro.load(run_dir)` (see nnintro.notebook)."""
from typing import Any

from nnintro.version import __version__

__all__ = ["__version__", "load", "train"]


def __getattr__(name: str) -> Any:
    # imported on first use, so `nnintro --help` and `import nnintro` stay light (no torch)
    if name in ("train", "load"):
        from nnintro import notebook

        return getattr(notebook, name)
    raise AttributeError(f"module 'nnintro' has no attribute {name!r}")
