"""Generated regression sets for the from-scratch lecture: the target is a known function of two inputs plus
noise, so a model's learned function can be drawn against the true one, and a linear model's weights read against
the formula. They load as tables (columns x1, x2, y), so everything a table gets applies (references, predict)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nnintro.datasets.base import RawDataset

INPUT_RANGE = 3.0  # x1 and x2 uniform in [-3, 3]


@dataclass(frozen=True)
class Surface:
    formula: str
    function: Callable[[np.ndarray, np.ndarray], np.ndarray]


SURFACES = {
    "plane": Surface("y = 4·x1 - x2 + 0.5", lambda x1, x2: 4 * x1 - x2 + 0.5),
    "bowl": Surface("y = x1² + x2²", lambda x1, x2: x1**2 + x2**2),
}


def surface_frame(name: str, rows: int, noise: float, seed: int):
    """rows points drawn from the seed: x1, x2 uniform, y the surface plus Gaussian noise of std `noise`."""
    import pandas as pd

    rng = np.random.default_rng([seed, 2])
    x1, x2 = rng.uniform(-INPUT_RANGE, INPUT_RANGE, size=(2, rows))
    y = SURFACES[name].function(x1, x2) + noise * rng.standard_normal(rows)
    return pd.DataFrame({"x1": x1, "x2": x2, "y": y})


def load_surface(name: str, cfg, seed: int) -> RawDataset:
    """data.n_samples rows in all, split as a table is (data.test_fraction, data.val_size)."""
    from nnintro.datasets.tabular import builtin_table, table_dataset

    return table_dataset(surface_frame(name, cfg.n_samples, cfg.noise, seed), ["y"], builtin_table(cfg), name, seed)
