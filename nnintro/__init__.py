"""nnintro: train linear baselines and MLPs on MNIST, Fashion-MNIST, CIFAR-10 and teaching datasets."""

__version__ = "0.1.0"
