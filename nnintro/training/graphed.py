"""train.cuda_graph: on a CUDA GPU, the whole training step (the explicit forward and backward, the loss and the
fused optimizer update) captured once as a CUDA graph and replayed: one launch per step instead of a few dozen
kernel launches of a few microseconds each, which is what bounds a small MLP at batch 64 on a GPU.

CUDA graphs need everything lazy to happen before the capture: the first WARM_UP steps run eagerly on the side
stream the capture then uses (cuBLAS's handles and workspaces are kept per stream; the optimizer's state is made
by its first step), the next step is captured, and every later step with the same
batch shape copies its batch into the graph's input and replays it. The learning rate is a device tensor the
host refreshes when a scheduler changes it; dropout draws from the generator CUDA graphs advance at each replay.
A batch of another shape (an epoch's last) runs eagerly. A capture needs a GPU: on the CPU the tests check
which runs would take this path and the update's tensor learning rate, not the capture itself.
"""
from __future__ import annotations

import warnings
from typing import Any

import torch

from nnintro.errors import ConfigError
from nnintro.training.explicit import ExplicitBackward
from nnintro.training.update import DirectUpdate

WARM_UP = 3


def graph_problems(device: torch.device, explicit: ExplicitBackward | None, update: Any, config: Any) -> list[str]:
    """Why this run's step cannot be captured (empty: it can)."""
    problems = []
    if device.type != "cuda":
        problems.append(f"the device is {device.type}, and CUDA graphs need a CUDA GPU")
    if explicit is None:
        problems.append("the step goes through autograd (the explicit backward does not cover this run: a plain "
                        "MLP, cross-entropy or MSE, no L1, label smoothing, mixup, folds or torchrun)")
    if not isinstance(update, DirectUpdate):
        problems.append(f"optimizer {config.optimizer.name} with these settings has no fused update "
                        f"(SGD, Adam or AdamW)")
    elif len(update.optimizer.param_groups) > 1:
        problems.append("the members have their own optimizer settings, and the graph replays one learning rate "
                        "for all (give every member the same values)")
    return problems


class GraphedStep:
    """step(x, y) -> (outputs, losses), as ExplicitBackward.forward_backward followed by the update."""

    def __init__(self, explicit: ExplicitBackward, update: DirectUpdate, device: torch.device,
                 required: bool = False) -> None:
        self.explicit, self.update, self.device, self.required = explicit, update, device, required
        self.failure: str | None = None  # why the capture failed: the run goes on eagerly (unless required)
        self.lr = torch.zeros((), device=device)
        self.lr_value: float | None = None
        self.graph: torch.cuda.CUDAGraph | None = None
        self.eager_steps = 0
        self.stream: torch.cuda.Stream | None = None  # the warm-up's and the capture's, made on first use

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lr = self.update.optimizer.param_groups[0]["lr"]
        if lr != self.lr_value:
            self.lr.fill_(lr)
            self.lr_value = lr
        if self.graph is None and self.failure is None and self.eager_steps >= WARM_UP and self.update.ready():
            try:
                self._capture(x, y)
            except RuntimeError as err:  # nothing ran during the capture: this batch is trained eagerly below
                self.failure = f"{type(err).__name__}: {str(err).strip().splitlines()[0][:200]}"
                if self.required:
                    raise ConfigError(f"train.cuda_graph: on, but the step could not be captured ({self.failure}); "
                                      f"use auto, which then trains without the graph") from err
                warnings.warn(f"train.cuda_graph: the step could not be captured ({self.failure}); training goes "
                              f"on without the graph", RuntimeWarning, stacklevel=2)
        if self.graph is not None and x.shape == self.x.shape:
            self.x.copy_(x)
            self.y.copy_(y)
            self.graph.replay()
            return self.outputs, self.losses.clone()  # the graph's own tensors change at the next replay
        return self._eager(x, y)

    def _side_stream(self) -> torch.cuda.Stream:
        if self.stream is None:
            self.stream = torch.cuda.Stream(self.device)
        return self.stream

    def _eager(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        current, side = torch.cuda.current_stream(self.device), self._side_stream()
        side.wait_stream(current)
        with torch.cuda.stream(side):
            outputs, losses = self.explicit.forward_backward(x, y)
            self.update(self.lr)
        current.wait_stream(side)
        for tensor in (outputs, losses):  # made on the side stream, read on the current one
            tensor.record_stream(current)
        self.eager_steps += 1
        return outputs, losses

    def _capture(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Record one step on static copies of this batch; nothing runs until the first replay."""
        self.x, self.y = x.clone(), y.clone()
        graph = torch.cuda.CUDAGraph()
        torch.cuda.synchronize(self.device)
        with torch.cuda.graph(graph, stream=self._side_stream()):
            self.outputs, self.losses = self.explicit.forward_backward(self.x, self.y)
            self.update(self.lr)
        self.graph = graph
