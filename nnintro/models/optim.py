"""Optimizer and learning-rate scheduler registries."""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch._compile
from torch import nn


def _compiler_loaded_only_when_used() -> None:
    """torch.optim's add_param_group, zero_grad, state_dict and load_state_dict import torch's compiler
    (torch._dynamo: about 2 s, a fifth of the offline default run) on their first call, only to keep the
    compiler out of themselves. Until something has imported the compiler nothing can be compiling, so until
    then they run as they are; from then on torch's own wrapper does what it always does."""
    if "torch._dynamo" in sys.modules:
        return
    wrapper_code = torch._compile._disable_dynamo(lambda: None).__code__  # every such wrapper runs this code
    for wrapper in vars(torch.optim.Optimizer).values():
        method = getattr(wrapper, "__wrapped__", None)
        if getattr(wrapper, "__code__", None) is wrapper_code and getattr(method, "__dynamo_disable", None) is None:
            method.__dynamo_disable = _until_the_compiler_is_loaded(method, wrapper)


def _until_the_compiler_is_loaded(method: Callable, wrapper: Callable) -> Callable:
    """What torch's wrapper calls (it caches it in `method.__dynamo_disable`): the method itself while the
    compiler is not loaded; once it is, the wrapper again, which then excludes the method from compilation."""

    def call(*args: Any, **kwargs: Any) -> Any:
        if "torch._dynamo" not in sys.modules:
            return method(*args, **kwargs)
        del method.__dynamo_disable
        return wrapper(*args, **kwargs)

    return call


def _fastest(optimizer_class: type, params: Iterable, **options) -> torch.optim.Optimizer:
    """The fused implementation (one kernel for all parameters) where this torch and device have it."""
    params = list(params)
    try:
        return optimizer_class(params, fused=True, **options)
    except (RuntimeError, ValueError, TypeError):
        return optimizer_class(params, foreach=True, **options)


def _sgd(params: Iterable, cfg) -> torch.optim.Optimizer:
    return _fastest(torch.optim.SGD, params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                    weight_decay=cfg.weight_decay)


def _adam(params: Iterable, cfg) -> torch.optim.Optimizer:
    return _fastest(torch.optim.Adam, params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _adamw(params: Iterable, cfg) -> torch.optim.Optimizer:
    return _fastest(torch.optim.AdamW, params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _rmsprop(params: Iterable, cfg) -> torch.optim.Optimizer:
    return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, foreach=True)


OPTIMIZERS: dict[str, Callable[[Iterable, object], torch.optim.Optimizer]] = {
    "sgd": _sgd,
    "adam": _adam,
    "adamw": _adamw,
    "rmsprop": _rmsprop,
}

# name -> (builder(optimizer, cfg, epochs, steps_per_epoch), steps per batch rather than per epoch)
SCHEDULERS: dict[str, tuple[Callable | None, bool]] = {
    "none": (None, False),
    "step": (lambda opt, cfg, epochs, steps: torch.optim.lr_scheduler.StepLR(opt, cfg.step_size, cfg.gamma), False),
    "cosine": (lambda opt, cfg, epochs, steps: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs), False),
    "onecycle": (
        lambda opt, cfg, epochs, steps: torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=cfg.max_lr or [10 * group["lr"] for group in opt.param_groups], epochs=epochs,
            steps_per_epoch=steps),
        True,
    ),
    "plateau": (
        lambda opt, cfg, epochs, steps: torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=cfg.factor, patience=cfg.patience),
        False,
    ),
}


def build_optimizer(model: nn.Module, member_configs: list) -> tuple[torch.optim.Optimizer, Callable[[], None]]:
    """One optimizer for a pack (member_configs: each member's optimizer section) and the function to call after
    backward. Members that share lr, momentum and weight decay (always, when only their seeds differ) are
    stepped as the packed tensors themselves. Otherwise each member's slice of every packed tensor (a view: no
    copy) is a param group with its own values, and the returned function hands each slice its part of the
    packed gradient."""
    _compiler_loaded_only_when_used()
    first = member_configs[0]
    packed = list(model.parameters())
    if len({(c.lr, c.momentum, c.weight_decay) for c in member_configs}) == 1:
        return OPTIMIZERS[first.name](packed, first), lambda: None
    slices = [[p.detach()[k].requires_grad_() for p in packed] for k in range(len(member_configs))]
    takes_momentum = first.name in ("sgd", "rmsprop")
    groups = [{"params": member_slices, "lr": c.lr, "weight_decay": c.weight_decay,
               **({"momentum": c.momentum} if takes_momentum else {})}
              for member_slices, c in zip(slices, member_configs)]

    def share_gradients() -> None:
        for member, member_slices in enumerate(slices):
            for part, whole in zip(member_slices, packed):
                part.grad = None if whole.grad is None else whole.grad[member]

    return OPTIMIZERS[first.name](groups, first), share_gradients


def member_lrs(optimizer: torch.optim.Optimizer, members: int) -> list[float]:
    """Each member's current learning rate (one param group per member, or one group for all)."""
    groups = optimizer.param_groups
    return [group["lr"] for group in groups] if len(groups) == members else [groups[0]["lr"]] * members


def build_scheduler(optimizer: torch.optim.Optimizer, scheduler_config, epochs: int, steps_per_epoch: int):
    """Return (scheduler or None, whether it steps every batch)."""
    builder, per_batch = SCHEDULERS[scheduler_config.name]
    if builder is None:
        return None, False
    return builder(optimizer, scheduler_config, epochs, steps_per_epoch), per_batch


def step_epoch_scheduler(scheduler: Any, per_batch: bool, val_metrics: list[dict[str, float]],
                         alive: list[int]) -> None:
    """An epoch's end for the scheduler: nothing for none or a per-batch one; plateau reads the validation loss
    (a pack's members share one scheduler: the mean over the members still training)."""
    if scheduler is None or per_batch:
        return
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(sum(val_metrics[k]["loss"] for k in alive) / len(alive))
    else:
        scheduler.step()
