"""The one trainer: mini-batch loop, validation, early stopping, scheduler, checkpoints, divergence guard.

The hot loop never synchronises with the device per step: per-step losses and correct counts are
accumulated in device tensors and read only when the progress display refreshes and at epoch end.
"""
from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from nnintro.checkpoint import RunFolder, load_training_state
from nnintro.config import Config
from nnintro.datasets import DatasetBundle, load_dataset
from nnintro.datasets.batches import steps_per_epoch, train_batches
from nnintro.distributed import Distributed, all_reduce_sum, any_rank
from nnintro.errors import NnintroError
from nnintro.evaluate import run_split
from nnintro.models import architecture_for, build_model, check_memory
from nnintro.optim import build_scheduler
from nnintro.step import Stepper

REFRESH_SECONDS = 0.25  # how often live numbers are read back from the device


class Diverged(NnintroError):
    """The loss became NaN or infinite."""

    exit_code = 3


class Observer(Protocol):
    """What the trainer tells the console, TensorBoard and reports; every method is optional."""

    def on_step(self, epoch: int, step: int, steps: int, loss: float) -> None: ...
    def on_epoch_end(self, row: dict[str, float]) -> None: ...


@dataclass
class FitResult:
    history: list[dict[str, float]]
    best_epoch: int
    stopped_early: bool
    status: str  # completed | stopped_early | interrupted | diverged
    train_seconds: float
    samples_trained: int
    message: str = ""


@dataclass
class EarlyStopping:
    monitor: str  # a metric of the task: loss, accuracy, mae, r2, ...
    higher_is_better: bool
    min_delta: float
    patience: int | None
    best: float = math.nan
    best_epoch: int = 0
    bad_epochs: int = 0

    def improved(self, value: float) -> bool:
        if math.isnan(self.best):
            return not math.isnan(value)
        if self.higher_is_better:
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def update(self, epoch: int, value: float) -> bool:
        """Record an epoch's monitored value; True if it is the new best."""
        if self.improved(value):
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self.bad_epochs >= self.patience

    def reason(self, epoch: int, restore_best: bool) -> str:
        kept = f"kept epoch {self.best_epoch}'s weights" if restore_best else "kept the last epoch's weights"
        return f"stopped after epoch {epoch}: val {self.monitor} did not improve for {self.patience} epochs; {kept}"

    def state(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def prepare(config: Config) -> tuple[DatasetBundle, torch.nn.Module]:
    """The start of every training: seed, load the data (on the CPU), build the untrained model."""
    seed_everything(config.seed)
    data = load_dataset(config.data, config.seed)
    data.task.loss_name(config.loss)  # settings that must fit the task are checked before any run folder exists
    data.task.check_monitor(config.train.early_stopping.monitor)
    architecture = architecture_for(config.model, data.input_shape, data.task.width, data.normalization,
                                    data.task.output_scale())
    check_memory(architecture)
    model = build_model(architecture)
    return data, model


def check_finite(losses: torch.Tensor, epoch: int, lr: float) -> None:
    finite = torch.isfinite(losses)
    if not bool(finite.all()):
        step = int((~finite).nonzero()[0]) + 1
        raise Diverged(f"loss became {float(losses[step - 1])} at epoch {epoch}, step {step}; "
                       f"try a lower optimizer.lr (now {lr:g})")


@dataclass
class Trainer:
    config: Config
    data: DatasetBundle  # already on the device
    model: nn.Module
    run_folder: RunFolder | None  # where epochs are recorded (None: nowhere, e.g. torchrun's other ranks)
    observers: list[Observer] = field(default_factory=list)
    stop_requested: Callable[[], bool] = lambda: False
    dist: Distributed = Distributed()

    def __post_init__(self) -> None:
        cfg = self.config
        self.task = self.data.task
        self.stepper = Stepper(self.model, self.task, cfg, self.dist)
        self.optimizer, self.device = self.stepper.optimizer, self.stepper.device
        self.steps = steps_per_epoch(len(self.data.train), cfg.data.batch_size)
        self.scheduler, self.scheduler_per_batch = build_scheduler(self.optimizer, cfg.scheduler,
                                                                   cfg.train.epochs, self.steps)
        es = cfg.train.early_stopping
        monitor = self.task.check_monitor(es.monitor)
        self.early = EarlyStopping(monitor, self.task.higher_is_better[monitor], es.min_delta, es.patience)
        self.history: list[dict[str, float]] = []
        self.start_epoch = 1
        self.best_state = self._copy_state()

    def _copy_state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def _notify(self, method: str, *args: Any) -> None:
        for observer in self.observers:
            if hasattr(observer, method):
                getattr(observer, method)(*args)

    def resume(self, checkpoint: Path) -> None:
        """Continue after the checkpoint's last completed epoch."""
        progress, best_state = load_training_state(checkpoint, self.model, self.optimizer, self.scheduler)
        self.best_state = {k: v.to(self.device) for k, v in best_state.items()}
        self.history = progress["history"]
        self.start_epoch = progress["epoch"] + 1
        for key, value in progress["early_stopping"].items():
            setattr(self.early, key, value)

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        cfg = self.config
        self.stepper.train_model.train()
        device = self.data.train.x.device
        n = len(self.data.train)
        step_losses = torch.zeros(self.steps, device=device)
        batch_sizes = torch.full((self.steps,), float(cfg.data.batch_size), device=device)
        batch_sizes[-1] = n - cfg.data.batch_size * (self.steps - 1)
        running = torch.zeros((), device=device)  # the task's running metric, summed over samples
        last_refresh = time.perf_counter()
        solo = not self.dist.enabled  # under DDP, decisions wait for the epoch's collective numbers
        for step, (x, y) in enumerate(train_batches(self.data.train, cfg.data.batch_size, cfg.seed, epoch,
                                                    self.dist.rank, self.dist.world_size)):
            outputs, loss = self.stepper.step(x, y, min(cfg.data.batch_size, n - step * cfg.data.batch_size))
            if self.scheduler_per_batch:
                self.scheduler.step()
            step_losses[step] = loss
            running += self.task.running_sum(outputs, y)
            now = time.perf_counter()
            if now - last_refresh > REFRESH_SECONDS or step == self.steps - 1:
                last_refresh = now
                if solo:
                    check_finite(step_losses[: step + 1], epoch, cfg.optimizer.lr)
                self._notify("on_step", epoch, step + 1, self.steps, float(step_losses[step]))
            if solo and self.stop_requested():
                return {}
        if not solo:
            # each rank averaged its own share of every batch; the epoch's numbers are over all of them
            step_losses = all_reduce_sum(step_losses) / self.dist.world_size
            running = all_reduce_sum(running)
            check_finite(step_losses, epoch, cfg.optimizer.lr)
        return {"train/loss": float((step_losses * batch_sizes).sum() / n),
                f"train/{self.task.running_metric}": float(running) / n}

    def _validate(self) -> dict[str, float]:
        """The task's metrics on the whole validation split (under DDP every rank scores it all: the same
        numbers everywhere, and validation sets are small)."""
        outputs = run_split(self.model, self.data.val, self.stepper.loss_fn, self.config.train.eval_batch_size)
        return {f"val/{name}": value for name, value in self.task.metrics(outputs).items()}

    def _save_epoch(self, epoch: int, improved: bool) -> None:
        """After every epoch, and once before the first (so a run stopped during epoch 1 can be resumed)."""
        if self.run_folder is not None:
            progress = {"epoch": epoch, "history": self.history, "early_stopping": self.early.state(),
                        "config": self.config.model_dump(mode="json")}
            self.run_folder.save_epoch(self.model, self.best_state, self.optimizer, self.scheduler, progress, improved)

    def fit(self) -> FitResult:
        # tiny values late in training become denormal floats, which run many times slower on x86 CPUs
        torch.set_flush_denormal(True)
        try:
            return self._fit()
        finally:
            torch.set_flush_denormal(False)

    def _fit(self) -> FitResult:
        cfg = self.config
        status, message = "completed", ""
        restore_best = cfg.train.early_stopping.restore_best
        if self.history and self.early.should_stop:  # a resumed run that had already stopped early
            status, message = "stopped_early", self.early.reason(len(self.history), restore_best)
            self.start_epoch = cfg.train.epochs + 1
        if cfg.train.compile and self.start_epoch <= cfg.train.epochs:
            self.stepper.warm_up_compiled(self.data.train, cfg.data.batch_size, self.steps)
        if not self.history:
            self._save_epoch(0, improved=True)
        for epoch in range(self.start_epoch, cfg.train.epochs + 1):
            lr = self.optimizer.param_groups[0]["lr"]
            started = time.perf_counter()
            try:
                train_metrics = self._train_epoch(epoch)
            except Diverged as err:
                status, message = "diverged", str(err)
                break
            if not train_metrics:
                status = "interrupted"
                break
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            epoch_seconds = time.perf_counter() - started
            val_metrics = self._validate()
            monitored = val_metrics[f"val/{self.early.monitor}"]
            improved = self.early.update(epoch, monitored)
            if improved:
                self.best_state = self._copy_state()
            if self.scheduler is not None and not self.scheduler_per_batch:
                if cfg.scheduler.name == "plateau":
                    self.scheduler.step(val_metrics["val/loss"])
                else:
                    self.scheduler.step()
            row = {"epoch": epoch, **train_metrics, **val_metrics, "lr": lr, "epoch_seconds": epoch_seconds}
            self.history.append(row)
            self._save_epoch(epoch, improved)
            self._notify("on_epoch_end", row)
            if self.early.should_stop and epoch < cfg.train.epochs:
                status, message = "stopped_early", self.early.reason(epoch, restore_best)
                break
            stop = self.stop_requested()
            if any_rank(stop, self.device) if self.dist.enabled else stop:
                status = "interrupted"
                break
        if restore_best or status in ("diverged", "interrupted"):
            self.model.load_state_dict(self.best_state)
        if self.run_folder is not None:
            self.run_folder.save_weights(self.model)
        train_seconds = sum(row["epoch_seconds"] for row in self.history)
        return FitResult(self.history, self.early.best_epoch, status == "stopped_early", status, train_seconds,
                         len(self.history) * len(self.data.train), message)

