"""One epoch's pass over the training split: its steps, and their numbers kept on the device until it ends."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from nnintro.config import Config
from nnintro.datasets import DatasetBundle
from nnintro.datasets.augment import Augmenter
from nnintro.datasets.batches import train_batches
from nnintro.training.distributed import Distributed, all_reduce_sum
from nnintro.training.step import Stepper

REFRESH_SECONDS = 0.25  # how often live numbers are read back from the device

# at each refresh: (the step, counted from 1, the epoch's totals so far, this step's losses (K,))
Refresh = Callable[[int, "EpochTotals", torch.Tensor], None]


@dataclass
class EpochTotals:
    """One epoch's numbers, kept on the device (read once at its end): each step's loss and sample count per
    member, and its sum of the task's running metric. Kept as lists of the steps' tensors: an append costs no
    device operation, where writing rows of one tensor would cost three per step."""

    device: torch.device
    losses: list[torch.Tensor] = field(default_factory=list)  # each (K,)
    counts: list[torch.Tensor | int] = field(default_factory=list)  # the batch size, or under data.folds (K,)
    running: list[torch.Tensor] = field(default_factory=list)  # each (K,)

    def add(self, losses: torch.Tensor, count: torch.Tensor | int, running: torch.Tensor) -> None:
        self.losses.append(losses)
        self.counts.append(count)
        self.running.append(running)

    def step_losses(self) -> torch.Tensor:
        """(steps so far, K)"""
        return torch.stack(self.losses)

    def stacked(self, dist: Distributed) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Each step's losses (steps, K), its counts (steps, K or 1) and the running metric's sum (K,); under DDP
        over all ranks (each rank averaged its own share of every batch)."""
        counts = torch.stack(self.counts) if isinstance(self.counts[0], torch.Tensor) else \
            torch.tensor(self.counts, dtype=torch.float32, device=self.device).unsqueeze(1)
        losses, running = self.step_losses(), torch.stack(self.running).sum(0)
        if dist.enabled:
            return all_reduce_sum(losses) / dist.world_size, counts, all_reduce_sum(running)
        return losses, counts, running

    @staticmethod
    def means(running_metric: str, losses: torch.Tensor, counts: torch.Tensor,
              running: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each member's training loss and running metric over the samples it trained on, (K,) tensors."""
        seen = counts.sum(0).clamp_min(1)
        return {"train/loss": (losses * counts).sum(0) / seen, f"train/{running_metric}": running / seen}


@dataclass
class TrainingPass:
    """What every epoch's pass needs: the batches (augmented, weighted by fold under data.folds), the step, and
    the scheduler when it steps per batch."""

    config: Config
    data: DatasetBundle  # on the device
    stepper: Stepper
    augment: Augmenter | None
    scheduler: Any
    scheduler_per_batch: bool
    dist: Distributed

    def run(self, epoch: int, steps: int, refresh: Refresh, stop_requested: Callable[[], bool]) -> EpochTotals | None:
        """Train one epoch; refresh is called every REFRESH_SECONDS and after the last step. None if a stop was
        requested during it."""
        cfg, train = self.config, self.data.train
        self.stepper.train_model.train()
        totals = EpochTotals(train.x.device)
        own_rows = self.data.folds["train"].float() if self.data.folds else None
        last_refresh = time.perf_counter()
        for step, (x, y, index) in enumerate(train_batches(train, cfg.data.batch_size, cfg.seed, epoch,
                                                           self.dist.rank, self.dist.world_size)):
            x, mix = self.augment.batch(x) if self.augment is not None else (x, None)  # the training split only
            weights = own_rows[:, index] if own_rows is not None else None
            size = min(cfg.data.batch_size, len(train) - step * cfg.data.batch_size)  # the global batch's
            outputs, losses = self.stepper.step(x, y, size, mix, weights)
            if self.scheduler_per_batch:
                self.scheduler.step()
            totals.add(losses, weights.sum(-1) if weights is not None else size,
                       self.data.task.running_sum(outputs, y, weights))
            now = time.perf_counter()
            if now - last_refresh > REFRESH_SECONDS or step == steps - 1:
                last_refresh = now
                refresh(step + 1, totals, losses)
            if stop_requested():
                return None
        return totals
