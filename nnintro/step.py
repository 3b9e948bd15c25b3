"""One optimizer step, as every training command takes it: forward under the configured precision, the
task's loss plus the L1 penalty, backward (through the gradient scaler for fp16), optimizer step. Wraps the
model for DDP and torch.compile. The trainer's epochs and the learning-rate range test both step with it."""
from __future__ import annotations

import time

import torch
from torch import nn

from nnintro.config import Config
from nnintro.datasets.base import Split
from nnintro.distributed import Distributed
from nnintro.optim import build_optimizer
from nnintro.tasks import Task


class Stepper:
    def __init__(self, model: nn.Module, task: Task, config: Config, dist: Distributed) -> None:
        self.model, self.dist = model, dist
        self.loss_fn = task.per_sample_loss(config.loss)
        self.train_loss = task.batch_mean_loss(config.loss)
        self.l1 = config.regularization.l1
        self.device = next(model.parameters()).device
        precision = config.train.precision
        self.autocast_dtype = {"bf16": torch.bfloat16, "16": torch.float16}.get(precision)
        self.scaler = torch.amp.GradScaler(self.device.type) if precision == "16" else None
        self.optimizer = build_optimizer(model.parameters(), config.optimizer)
        self.compile_seconds = 0.0
        self.train_model = model
        if dist.enabled:  # gradients averaged across ranks; each rank trains on its share of every batch
            from torch.nn.parallel import DistributedDataParallel

            self.train_model = DistributedDataParallel(
                model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        if config.train.compile:
            self.train_model = torch.compile(self.train_model)

    def forward_loss(self, x: torch.Tensor, y: torch.Tensor, global_batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.autocast_dtype is None:  # entering a disabled autocast still costs ~10% of a small step
            outputs = self.train_model(x)
        else:
            with torch.autocast(self.device.type, dtype=self.autocast_dtype):
                outputs = self.train_model(x).float()
        penalty = self._l1_penalty()
        if self.dist.enabled:
            # DDP averages gradients over ranks; scaling each rank's sum this way makes that average the
            # global batch's mean even when the ranks' shares differ in size (the last batch)
            return outputs, self.loss_fn(outputs, y).sum() * (self.dist.world_size / global_batch) + penalty
        return outputs, self.train_loss(outputs, y) + penalty

    def step(self, x: torch.Tensor, y: torch.Tensor, global_batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimizer step; returns the outputs and the (detached) loss."""
        outputs, loss = self.forward_loss(x, y, global_batch)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        return outputs.detach(), loss.detach()

    def _l1_penalty(self) -> torch.Tensor | float:
        """regularization.l1 times the sum of |weights| (biases are not penalized, as in the Playground)."""
        if not self.l1:
            return 0.0
        weights = [m.weight for m in self.model.modules() if isinstance(m, nn.Linear)]
        return self.l1 * sum(w.abs().sum() for w in weights)

    def warm_up_compiled(self, train: Split, batch: int, steps: int) -> None:
        """Compile for both batch shapes before timing starts; no weights change, no RNG is consumed."""
        started = time.perf_counter()
        n = len(train)
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            for size in {min(batch, n), n - batch * (steps - 1)}:
                self.forward_loss(train.x[:size], train.y[:size], size)[1].backward()
        self.optimizer.zero_grad(set_to_none=True)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.compile_seconds = time.perf_counter() - started
