"""`nnintro lr-find`: the learning-rate range test (Smith 2017): a few hundred steps with an exponentially rising
learning rate, the loss against it, and a suggestion."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnintro.config import Config
from nnintro.errors import ConfigError
from nnintro.files import write_csv
from nnintro.run_folder.layout import create_run_dir


@dataclass
class LrFindResult:
    folder: Path
    points: list[tuple[float, float]]
    suggested: float
    steepest: float


def lr_range_test(config: Config, data: Any, model: Any, lrs: list[float],
                  explode: float = 4.0) -> list[tuple[float, float]]:
    """One step per lr (the training batches in order, epoch after epoch as the ramp needs: a small dataset
    still gets every step asked for), stopping once the smoothed loss exceeds `explode` times its best. Returns
    (lr, smoothed loss) pairs."""
    import itertools

    from nnintro.datasets.batches import train_batches
    from nnintro.training.distributed import Distributed
    from nnintro.training.step import Stepper

    stepper = Stepper(model, data.task, config, Distributed())
    stepper.train_model.train()
    smoothed, best, points = 0.0, math.inf, []
    batches = itertools.chain.from_iterable(train_batches(data.train, config.data.batch_size, config.seed, epoch)
                                            for epoch in itertools.count(1))
    for index, (lr, (x, y, _)) in enumerate(zip(lrs, batches)):
        for group in stepper.optimizer.param_groups:
            group["lr"] = lr
        value = float(stepper.step(x, y, len(y))[1])
        if not math.isfinite(value):
            break
        smoothed = 0.98 * smoothed + 0.02 * value
        debiased = smoothed / (1 - 0.98 ** (index + 1))
        points.append((lr, debiased))
        best = min(best, debiased)
        if debiased > explode * best:
            break
    return points


def lr_find(config: Config, runs_root: Path, steps: int, start_lr: float, end_lr: float) -> LrFindResult:
    """Ramp the lr exponentially over `steps` steps, record the smoothed loss, suggest an lr."""
    from nnintro.reports.plots import lr_find_figure, save_figure
    from nnintro.training.device import select_device
    from nnintro.training.trainer import prepare

    device = select_device(config.train.device)
    data, model = prepare(config)
    data = data.to(device)
    count = max(2, steps)
    lrs = [start_lr * (end_lr / start_lr) ** (i / (count - 1)) for i in range(count)]
    points = lr_range_test(config, data, model.to(device), lrs)
    if len(points) < 3:
        raise ConfigError(f"lr-find: the loss was not finite past {len(points)} steps; lower --start-lr")
    best = min(range(len(points)), key=lambda i: points[i][1])
    log_lr = [math.log10(lr) for lr, _ in points]
    slopes = [(points[i + 1][1] - points[i - 1][1]) / (log_lr[i + 1] - log_lr[i - 1]) for i in range(1, best or 1)]
    steepest = points[1 + min(range(len(slopes)), key=slopes.__getitem__)][0] if slopes else points[best][0]
    suggested = points[best][0] / 10  # a decade below the minimum: still falling fast, far from the blow-up
    folder = create_run_dir(runs_root, f"lr_find-{config.run_name}")
    write_csv(folder / "lr_find.csv", [{"lr": lr, "smoothed_loss": loss} for lr, loss in points])
    save_figure(lr_find_figure(points, suggested, steepest, config.run_name), folder / "lr_find.png")
    return LrFindResult(folder, points, suggested, steepest)
