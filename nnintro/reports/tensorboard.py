"""TensorBoard logging: the same metric names as history.csv and metrics.json."""
from __future__ import annotations

from pathlib import Path


class TensorBoardObserver:
    def __init__(self, run_dir: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run_dir))

    def on_epoch_end(self, row: dict[str, float]) -> None:
        epoch = int(row["epoch"])
        for key, value in row.items():
            if key != "epoch":
                self.writer.add_scalar(key if "/" in key else f"train/{key}", value, epoch)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
