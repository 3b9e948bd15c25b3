"""The one trainer: mini-batch loop, validation, early stopping, scheduler, checkpoints, divergence guard.

The hot loop never synchronises with the device per step: per-step losses and correct counts are
accumulated in device tensors and read only when the progress display refreshes and at epoch end.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from nnintro.config import Config
from nnintro.datasets import DatasetBundle, load_dataset
from nnintro.datasets.augment import Augmenter
from nnintro.datasets.batches import steps_per_epoch
from nnintro.errors import ConfigError, NnintroError
from nnintro.models.layers import architecture_for, build_model, check_memory
from nnintro.models.optim import build_scheduler, member_lrs, step_epoch_scheduler
from nnintro.run_folder.checkpoint import RunFolder, load_training_state
from nnintro.training.device import ContentionWatch
from nnintro.training.distributed import Distributed, any_rank
from nnintro.training.epoch_pass import EpochTotals, TrainingPass
from nnintro.training.members import Members
from nnintro.training.numpy_engine import check_task
from nnintro.training.outputs import member_outputs, run_split
from nnintro.training.step import Stepper


class Diverged(NnintroError):
    """The loss became NaN or infinite."""

    exit_code = 3


# after each epoch: (epoch, each member's val metrics, the members still training) -> members to stop, and why
Judge = Callable[[int, list[dict[str, float]], list[int]], dict[int, str]]


def no_verdicts(_epoch: int, _val: list[dict[str, float]], _training: list[int]) -> dict[int, str]:
    """The judge of a plain run: nobody is stopped but by early stopping and divergence."""
    return {}


class Observer(Protocol):
    """What the trainer tells the console, TensorBoard and reports; every method is optional."""

    def on_step(self, epoch: int, step: int, steps: int, loss: float) -> None: ...
    def on_epoch_end(self, row: dict[str, float]) -> None: ...
    def on_warning(self, message: str) -> None: ...
    def on_epoch_steps(self, epoch: int, losses: list[float]) -> None: ...


@dataclass
class FitResult:
    history: list[dict[str, float]]
    best_epoch: int
    stopped_early: bool
    status: str  # completed | stopped_early | interrupted | diverged (every member) | pruned (every member)
    train_seconds: float
    samples_trained: int
    message: str = ""
    members: list[dict[str, Any]] = field(default_factory=list)  # each member's status, message and best epoch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def prepare(config: Config) -> tuple[DatasetBundle, torch.nn.Module]:
    """The start of every training: seed, load the data (on the CPU), build the untrained model."""
    seed_everything(config.seed)
    data = load_dataset(config.data, config.seed)
    data.task.per_sample_loss(config.loss)  # settings that must fit the task are checked before any run folder exists
    data.task.check_monitor(config.train.early_stopping.monitor)
    if config.train.engine == "numpy":
        check_task(data.task, config.loss)
    if config.data.augment.enabled and data.kind != "image":
        raise ConfigError(f"data.augment: only images can be augmented; {data.name} holds {data.kind}")
    architecture = architecture_for(config.model, data.input_shape, data.task.width, data.normalization,
                                    data.task.output_scale(), config.train.members)
    check_memory(architecture)
    model = build_model(architecture, [member.seed for member in config.member_configs()])
    return data, model


@contextmanager
def flushed_denormals() -> Iterator[None]:
    """Tiny values late in training become denormal floats, which run many times slower on x86 CPUs."""
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


@dataclass
class Trainer:
    config: Config
    data: DatasetBundle  # already on the device
    model: nn.Module  # a pack: outputs (K, B, width)
    run_folder: RunFolder | None  # where epochs are recorded (None: nowhere, e.g. torchrun's other ranks)
    observers: list[Observer] = field(default_factory=list)
    stop_requested: Callable[[], bool] = lambda: False
    dist: Distributed = Distributed()
    judge: Judge = no_verdicts

    def __post_init__(self) -> None:
        cfg = self.config
        self.task = self.data.task
        self.stepper = Stepper(self.model, self.task, cfg, self.dist)
        self.optimizer, self.device = self.stepper.optimizer, self.stepper.device
        self.steps = steps_per_epoch(len(self.data.train), cfg.data.batch_size)
        self.scheduler, self.scheduler_per_batch = build_scheduler(self.optimizer, cfg.scheduler,
                                                                   cfg.train.epochs, self.steps)
        self.members = Members.for_config(self.model, self.stepper.frozen, self.task, cfg.train.early_stopping)
        self.augment = Augmenter.for_data(cfg.data.augment, self.data.normalization)
        self.training_pass = TrainingPass(cfg, self.data, self.stepper, self.augment, self.scheduler,
                                          self.scheduler_per_batch, self.dist)
        self.history: list[dict[str, float]] = []
        self.start_epoch = 1
        self.started = False
        self.contention = ContentionWatch(self.device)  # the CPU busy with other programs, said once
        self.steps_log: list[dict[str, float]] = []  # every step's training loss (the members still training)
        self.result: FitResult | None = None  # set when epochs() is exhausted

    def _notify(self, method: str, *args: Any) -> None:
        for call in filter(None, (getattr(observer, method, None) for observer in self.observers)):
            call(*args)

    def resume(self, checkpoint: Path) -> None:
        """Continue after the checkpoint's last completed epoch."""
        progress, best_state = load_training_state(checkpoint, self.model, self.optimizer, self.scheduler)
        self.members.load_state(progress["members"], {k: v.to(self.device) for k, v in best_state.items()})
        self.history = progress["history"]
        self.start_epoch = progress["epoch"] + 1
        self.steps_log = self.run_folder.saved_steps(progress["epoch"]) if self.run_folder is not None else []

    def _train_epoch(self, epoch: int) -> dict[str, torch.Tensor]:
        """Each member's training loss and running metric over the epoch, (K,) tensors ({} if interrupted)."""
        solo = not self.dist.enabled  # under DDP, decisions wait for the epoch's collective numbers

        def refresh(step: int, totals: EpochTotals, losses: torch.Tensor) -> None:
            if solo:
                self._check_finite(totals.step_losses(), epoch)
            self._notify("on_step", epoch, step, self.steps, float(losses[self.members.alive].mean()))

        totals = self.training_pass.run(epoch, self.steps, refresh, lambda: solo and self.stop_requested())
        if totals is None:
            return {}
        step_losses, counts, running = totals.stacked(self.dist)
        if not solo:
            self._check_finite(step_losses, epoch)
        alive = step_losses[:, self.members.alive].mean(1).tolist() if self.members.alive else []
        self.steps_log += [{"epoch": epoch, "step": step, "loss": loss} for step, loss in enumerate(alive, 1)]
        self._notify("on_epoch_steps", epoch, alive)
        return EpochTotals.means(self.task.running_metric, step_losses, counts, running)

    def _check_finite(self, step_losses: torch.Tensor, epoch: int) -> None:
        self.members.check_finite(step_losses, epoch, member_lrs(self.optimizer, len(self.members)))
        if not self.members.alive:
            raise Diverged(self.members[0].message)

    def _validate(self) -> list[dict[str, float]]:
        """Each member's task metrics on the whole validation split (under DDP every rank scores it all: the
        same numbers everywhere, and validation sets are small)."""
        outputs = run_split(self.model, self.data.val, self.stepper.loss_fn, self.config.train.eval_batch_size)
        return [self.task.metrics(member) for member in member_outputs(outputs, self.data.folds and self.data.folds["val"])]

    def _save_epoch(self, epoch: int, improved: bool) -> None:
        """After every epoch, and once before the first (so a run stopped during epoch 1 can be resumed)."""
        if self.run_folder is not None:
            progress = {"epoch": epoch, "history": self.history, "members": self.members.state(),
                        "config": self.config.model_dump(mode="json"), "steps": self.steps_log}
            self.run_folder.save_epoch(self.model, self.members.best_state, self.optimizer, self.scheduler, progress,
                                       improved)

    def save_start(self) -> None:
        """The untrained state as epoch 0's checkpoint, once: a run stopped before epoch 1 ends can be resumed."""
        if not self.history and not self.started:
            self._save_epoch(0, improved=True)
            self.started = True

    def fit(self) -> FitResult:
        for _ in self.epochs():
            pass
        return self.result

    def epochs(self) -> Iterator[dict[str, float]]:
        """Train, yielding each epoch's history row as it ends (a caller may do other work between epochs, as
        bench does when its loops take turns); once it is exhausted, self.result is the run's FitResult.
        Denormals are flushed only while an epoch runs, not while the caller holds the turn."""
        cfg, status = self.config, "completed"
        if cfg.train.compile and self.start_epoch <= cfg.train.epochs:
            with flushed_denormals():
                self.stepper.warm_up_compiled(self.data.train, cfg.data.batch_size, self.steps)
        self.save_start()
        for epoch in range(self.start_epoch, cfg.train.epochs + 1):
            if not self.members.training:  # a resumed run whose members had all stopped
                break
            with flushed_denormals():
                status, row = self._run_epoch(epoch)
            if row is None:
                break
            yield row
            stop = self.stop_requested()
            if any_rank(stop, self.device) if self.dist.enabled else stop:
                status = "interrupted"
                break
        self.result = self._finish(status)

    def _run_epoch(self, epoch: int) -> tuple[str, dict[str, float] | None]:
        """Train one epoch, validate, decide and save: ("completed", its history row), or why it ended and None."""
        cfg = self.config
        lr = self.optimizer.param_groups[0]["lr"]
        started = time.perf_counter()
        self.contention.start()
        try:
            train_metrics = self._train_epoch(epoch)
        except Diverged:
            return "diverged", None
        if not train_metrics:
            return "interrupted", None
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        epoch_seconds = time.perf_counter() - started
        if warning := self.contention.said(epoch, epoch_seconds):
            self._notify("on_warning", warning)
        val_metrics = self._validate()
        improved = self.members.end_epoch(epoch, [m[self.members[0].early.monitor] for m in val_metrics],
                                          epoch == cfg.train.epochs)
        self.members.prune(self.judge(epoch, val_metrics, self.members.training))
        step_epoch_scheduler(self.scheduler, self.scheduler_per_batch, val_metrics, self.members.alive)
        row = self.members.history_row(epoch, train_metrics, val_metrics, lr, epoch_seconds)
        self.history.append(row)
        self._save_epoch(epoch, improved)
        self._notify("on_epoch_end", row)
        return "completed", row

    def _finish(self, status: str) -> FitResult:
        self.members.finish(restore_all=status == "interrupted")
        if self.run_folder is not None:
            self.run_folder.save_weights(self.model)
        status, message = self.members.outcome(status)
        train_seconds = sum(row["epoch_seconds"] for row in self.history)
        return FitResult(self.history, self.members.best_epoch, status == "stopped_early", status, train_seconds,
                         len(self.history) * len(self.data.train), message, self.members.records())
