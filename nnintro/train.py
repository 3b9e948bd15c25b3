"""The one trainer: mini-batch loop, validation, early stopping, scheduler, checkpoints, divergence guard.

The hot loop never synchronises with the device per step: per-step losses and correct counts are
accumulated in device tensors and read only when the progress display refreshes and at epoch end.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from nnintro.checkpoint import load_training_state, save_training_state, save_weights
from nnintro.config import Config
from nnintro.datasets.base import DatasetBundle
from nnintro.datasets.batches import steps_per_epoch, train_batches
from nnintro.distributed import Distributed, all_reduce_sum, any_rank
from nnintro.errors import NnintroError
from nnintro.evaluate import run_split
from nnintro.optim import build_optimizer, build_scheduler
from nnintro.runs import CHECKPOINT_FILE, HISTORY_FILE, WEIGHTS_FILE, write_csv

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

    def state(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs}


@dataclass
class Trainer:
    config: Config
    data: DatasetBundle  # already on the device
    model: nn.Module
    run_dir: Path | None
    observers: list[Observer] = field(default_factory=list)
    stop_requested: Callable[[], bool] = lambda: False
    dist: Distributed = Distributed()

    def __post_init__(self) -> None:
        cfg = self.config
        self.task = self.data.task
        self.loss_fn = self.task.per_sample_loss(cfg.loss)
        self.train_loss = self.task.batch_mean_loss(cfg.loss)
        self.device = next(self.model.parameters()).device
        precision = cfg.train.precision
        self.autocast_dtype = {"bf16": torch.bfloat16, "16": torch.float16}.get(precision)
        self.scaler = torch.amp.GradScaler(self.device.type) if precision == "16" else None
        self.compile_seconds = 0.0
        self.optimizer = build_optimizer(self.model.parameters(), cfg.optimizer)
        self.steps = steps_per_epoch(len(self.data.train), cfg.data.batch_size)
        self.scheduler, self.scheduler_per_batch = build_scheduler(self.optimizer, cfg.scheduler,
                                                                   cfg.train.epochs, self.steps)
        es = cfg.train.early_stopping
        monitor = self.task.check_monitor(es.monitor)
        self.early = EarlyStopping(monitor, self.task.higher_is_better[monitor], es.min_delta, es.patience)
        self.history: list[dict[str, float]] = []
        self.start_epoch = 1
        self.best_state = self._copy_state()
        self.train_model = self.model
        if self.dist.enabled:  # gradients averaged across ranks; each rank trains on its share of every batch
            from torch.nn.parallel import DistributedDataParallel

            self.train_model = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        if cfg.train.compile:
            self.train_model = torch.compile(self.train_model)

    def _forward_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                      global_batch: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        if self.autocast_dtype is None:  # entering a disabled autocast still costs ~10% of a small step
            outputs = model(x)
        else:
            with torch.autocast(self.device.type, dtype=self.autocast_dtype):
                outputs = model(x).float()
        penalty = self._l1_penalty()
        if self.dist.enabled:
            # DDP averages gradients over ranks; scaling each rank's sum this way makes that average the
            # global batch's mean even when the ranks' shares differ in size (the last batch)
            return outputs, self.loss_fn(outputs, y).sum() * (self.dist.world_size / global_batch) + penalty
        return outputs, self.train_loss(outputs, y) + penalty

    def _step(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
              global_batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimizer step; returns the outputs and the (detached) loss."""
        outputs, loss = self._forward_loss(model, x, y, global_batch)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        return outputs.detach(), loss.detach()

    def lr_range_test(self, lrs: list[float], explode: float = 4.0) -> list[tuple[float, float]]:
        """The learning-rate range test: one step per lr (batches of the first epoch, in order), stopping
        once the smoothed loss exceeds `explode` times its best. Returns (lr, smoothed loss) pairs."""
        batches = train_batches(self.data.train, self.config.data.batch_size, self.config.seed, 1,
                                self.dist.rank, self.dist.world_size)
        self.train_model.train()
        smoothed, best, points = 0.0, math.inf, []
        for index, (lr, (x, y)) in enumerate(zip(lrs, batches)):
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            _, loss = self._step(self.train_model, x, y, len(y) * self.dist.world_size)
            value = float(loss)
            if not math.isfinite(value):
                break
            smoothed = 0.98 * smoothed + 0.02 * value
            debiased = smoothed / (1 - 0.98 ** (index + 1))
            points.append((lr, debiased))
            best = min(best, debiased)
            if debiased > explode * best:
                break
        return points

    def _l1_penalty(self) -> torch.Tensor | float:
        """regularization.l1 times the sum of |weights| (biases are not penalized, as in the Playground)."""
        if not self.config.regularization.l1:
            return 0.0
        weights = [m.weight for m in self.model.modules() if isinstance(m, nn.Linear)]
        return self.config.regularization.l1 * sum(w.abs().sum() for w in weights)

    def _warm_up_compiled(self) -> None:
        """Compile for both batch shapes before timing starts; no weights change, no RNG is consumed."""
        started = time.perf_counter()
        n, batch = len(self.data.train), self.config.data.batch_size
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            for size in {min(batch, n), n - batch * (self.steps - 1)}:
                x, y = self.data.train.x[:size], self.data.train.y[:size]
                self._forward_loss(self.train_model, x, y, size)[1].backward()
        self.optimizer.zero_grad(set_to_none=True)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.compile_seconds = time.perf_counter() - started

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
        cfg, model = self.config, self.train_model
        model.train()
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
            outputs, loss = self._step(model, x, y, min(cfg.data.batch_size, n - step * cfg.data.batch_size))
            if self.scheduler_per_batch:
                self.scheduler.step()
            step_losses[step] = loss
            running += self.task.running_sum(outputs, y)
            now = time.perf_counter()
            if now - last_refresh > REFRESH_SECONDS or step == self.steps - 1:
                last_refresh = now
                if solo:
                    self._check_finite(step_losses[: step + 1], epoch)
                self._notify("on_step", epoch, step + 1, self.steps, float(step_losses[step]))
            if solo and self.stop_requested():
                return {}
        if not solo:
            # each rank averaged its own share of every batch; the epoch's numbers are over all of them
            step_losses = all_reduce_sum(step_losses) / self.dist.world_size
            running = all_reduce_sum(running)
            self._check_finite(step_losses, epoch)
        return {"train/loss": float((step_losses * batch_sizes).sum() / n),
                f"train/{self.task.running_metric}": float(running) / n}

    def _check_finite(self, losses: torch.Tensor, epoch: int) -> None:
        finite = torch.isfinite(losses)
        if not bool(finite.all()):
            step = int((~finite).nonzero()[0]) + 1
            raise Diverged(f"loss became {float(losses[step - 1])} at epoch {epoch}, step {step}; "
                           f"try a lower optimizer.lr (now {self.config.optimizer.lr:g})")

    def _validate(self) -> dict[str, float]:
        """The task's metrics on the whole validation split (under DDP every rank scores it all: the same
        numbers everywhere, and validation sets are small)."""
        outputs = run_split(self.model, self.data.val, self.loss_fn, self.config.train.eval_batch_size)
        return {f"val/{name}": value for name, value in self.task.metrics(outputs).items()}

    def _save_epoch(self, epoch: int, improved: bool) -> None:
        """After every epoch, and once before the first (so a run stopped during epoch 1 can be resumed)."""
        if self.run_dir is None or not self.dist.is_main:
            return
        if improved:
            save_weights(self.model, self.run_dir / WEIGHTS_FILE)
        write_csv(self.run_dir / HISTORY_FILE, self.history)
        progress = {"epoch": epoch, "history": self.history, "early_stopping": self.early.state(),
                    "config": self.config.model_dump(mode="json")}
        save_training_state(self.run_dir / CHECKPOINT_FILE, self.model, self.best_state, self.optimizer,
                            self.scheduler, progress)

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
        if self.history and self.early.should_stop:  # a resumed run that had already stopped early
            status, self.start_epoch = "stopped_early", cfg.train.epochs + 1
        if cfg.train.compile and self.start_epoch <= cfg.train.epochs:
            self._warm_up_compiled()
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
                status = "stopped_early"
                break
            stop = self.stop_requested()
            if any_rank(stop, self.device) if self.dist.enabled else stop:
                status = "interrupted"
                break
        if cfg.train.early_stopping.restore_best or status in ("diverged", "interrupted"):
            self.model.load_state_dict(self.best_state)
        if self.run_dir is not None and self.dist.is_main:
            save_weights(self.model, self.run_dir / WEIGHTS_FILE)
        train_seconds = sum(row["epoch_seconds"] for row in self.history)
        return FitResult(self.history, self.early.best_epoch, status == "stopped_early", status, train_seconds,
                         len(self.history) * len(self.data.train), message)

