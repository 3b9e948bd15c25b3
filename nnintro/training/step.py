"""One optimizer step, as every training command takes it: forward under the configured precision, each
member's loss plus its L1 penalty, backward (through the gradient scaler for fp16), optimizer step, then the
frozen members put back. Wraps the model for DDP and torch.compile. The trainer's epochs and the
learning-rate range test both step with it."""
from __future__ import annotations

import time

import torch
from torch import nn

from nnintro.config import Config
from nnintro.datasets.base import Split
from nnintro.errors import ConfigError
from nnintro.models.layers import PackedLinear
from nnintro.models.optim import build_optimizer
from nnintro.tasks import Task
from nnintro.training.distributed import Distributed
from nnintro.training.explicit import ExplicitBackward, explicit_problems
from nnintro.training.graphed import GraphedStep, graph_problems
from nnintro.training.members import FrozenMembers
from nnintro.training.numpy_engine import NumpyEngine
from nnintro.training.outputs import member_losses
from nnintro.training.update import direct_step


class Stepper:
    def __init__(self, model: nn.Module, task: Task, config: Config, dist: Distributed) -> None:
        self.model, self.dist = model, dist
        self.loss_fn = task.per_sample_loss(config.loss)
        members = config.member_configs()
        self.device = next(model.parameters()).device
        l1 = [member.regularization.l1 for member in members]
        self.l1 = torch.tensor(l1, device=self.device) if any(l1) else None
        precision = config.train.precision
        self.autocast_dtype = {"bf16": torch.bfloat16, "16": torch.float16}.get(precision)
        self.scaler = torch.amp.GradScaler(self.device.type) if precision == "16" else None
        self.optimizer, self.share_gradients = build_optimizer(model, [member.optimizer for member in members])
        self.update = direct_step(self.optimizer)
        self.frozen = FrozenMembers(model)
        self.compile_seconds = 0.0
        self.train_model = model
        self.numpy_engine = NumpyEngine(model, task, config.loss) if config.train.engine == "numpy" else None
        self.explicit = None
        if config.train.engine != "numpy" and not explicit_problems(model, task, config, dist.enabled):
            self.explicit = ExplicitBackward(model, task)
        self.graphed = self._graphed_step(config)
        if dist.enabled:  # gradients averaged across ranks; each rank trains on its share of every batch
            from torch.nn.parallel import DistributedDataParallel

            self.train_model = DistributedDataParallel(
                model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        if config.train.compile:
            self.train_model = torch.compile(self.train_model)

    def forward_loss(self, x: torch.Tensor, y: torch.Tensor, global_batch: int,
                     mix: tuple[torch.Tensor, float] | None = None,
                     weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The pack's outputs (K, B, width) and each member's loss (K,): their sum is what backward takes,
        so every member gets exactly its own gradient. mix: mixup's (partner of each sample, lambda);
        weights (K, B): which samples are each member's (data.folds: its own training rows), the mean over those."""
        if self.autocast_dtype is None:  # entering a disabled autocast still costs ~10% of a small step
            outputs = self.train_model(x)
        else:
            with torch.autocast(self.device.type, dtype=self.autocast_dtype):
                outputs = self.train_model(x).float()
        losses = member_losses(self.loss_fn, outputs, y)
        if mix is not None:
            partner, mixing = mix
            losses = losses * mixing + member_losses(self.loss_fn, outputs, y[partner]) * (1 - mixing)
        if weights is not None:
            losses = (losses * weights).sum(-1) / weights.sum(-1).clamp_min(1)
        elif self.dist.enabled:
            # DDP averages gradients over ranks; scaling each rank's sum this way makes that average the
            # global batch's mean even when the ranks' shares differ in size (the last batch)
            losses = losses.sum(-1) * (self.dist.world_size / global_batch)
        else:
            losses = losses.mean(-1)
        return outputs, losses + self._l1_penalty()

    def step(self, x: torch.Tensor, y: torch.Tensor, global_batch: int,
             mix: tuple[torch.Tensor, float] | None = None,
             weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimizer step; returns the outputs and each member's (detached) loss."""
        if self.graphed is not None:  # the graph takes the update too
            outputs, losses = self.graphed(x, y)
        else:
            outputs, losses = self._gradients(x, y, global_batch, mix, weights)
            self.share_gradients()
            if self.scaler is not None:
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                self.update()
        self.frozen.restore()
        return outputs, losses

    def _gradients(self, x: torch.Tensor, y: torch.Tensor, global_batch: int,
                   mix: tuple[torch.Tensor, float] | None,
                   weights: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Every parameter's .grad for this batch, by the run's path; the outputs and each member's loss."""
        if self.explicit is not None:  # it overwrites the gradients it keeps: nothing to zero
            return self.explicit.forward_backward(x, y)
        self.model.zero_grad(set_to_none=True)
        self.optimizer.zero_grad(set_to_none=True)
        if self.numpy_engine is not None:  # the from-scratch backpropagation sets the gradients
            return self.numpy_engine.forward_backward(x, y)
        outputs, losses = self.forward_loss(x, y, global_batch, mix, weights)
        (self.scaler.scale(losses.sum()) if self.scaler is not None else losses.sum()).backward()
        return outputs.detach(), losses.detach()

    def _graphed_step(self, config: Config) -> GraphedStep | None:
        """The CUDA graph of the whole step where train.cuda_graph allows it and the run can be captured."""
        if config.train.cuda_graph == "off":
            return None
        problems = graph_problems(self.device, self.explicit, self.update, config)
        if problems and config.train.cuda_graph == "on":
            raise ConfigError(f"train.cuda_graph: on, but this run cannot be captured: {'; '.join(problems)}; "
                              f"use auto (or off)")
        return None if problems else GraphedStep(self.explicit, self.update, self.device,
                                                 required=config.train.cuda_graph == "on")

    @property
    def path(self) -> str:
        """How a step is taken, in words (bench and the console say it)."""
        if self.numpy_engine is not None:
            return "numpy engine"
        if self.graphed is not None:
            failed = f" (capture failed, {self.graphed.failure}: the explicit step)" if self.graphed.failure else ""
            return f"CUDA graph of the explicit step{failed}"
        return "explicit backward" if self.explicit is not None else "autograd"

    def _l1_penalty(self) -> torch.Tensor | float:
        """Each member's regularization.l1 times the sum of its |weights| (biases are not penalized, as in the
        Playground)."""
        if self.l1 is None:
            return 0.0
        return self.l1 * sum(m.weight.abs().flatten(1).sum(1) for m in self.model.modules()
                             if isinstance(m, PackedLinear))

    def warm_up_compiled(self, train: Split, batch: int, steps: int) -> None:
        """Compile for both batch shapes before timing starts; no weights change, no RNG is consumed."""
        started = time.perf_counter()
        n = len(train)
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            for size in {min(batch, n), n - batch * (steps - 1)}:
                self.forward_loss(train.x[:size], train.y[:size], size)[1].sum().backward()
        self.model.zero_grad(set_to_none=True)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.compile_seconds = time.perf_counter() - started
