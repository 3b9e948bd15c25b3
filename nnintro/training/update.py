"""optimizer.step() without its wrapper, for the fused SGD, Adam and AdamW that build_optimizer makes.

At batch 64 on the CPU, torch.optim's step() spends more time in Python (hooks, the profiler's record_function,
gathering the state, grouping tensors by device) than in its fused kernel: ~100 us against ~35 us for SGD on the
784-128-10 model. DirectUpdate calls the same kernel with the same arguments on the optimizer's own state
tensors, so checkpoints, resuming and the schedulers (which set the group's lr) see an ordinary optimizer. It
also creates that state on the first step as step() does (the same tensors, the same first-step kernel), so
step() is never called: its first call imports torch's compiler, about 2 s of every training command's start.
`tests/training/test_update.py` checks the weights and the state against step()'s.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.optim.optimizer import _device_dtype_check_for_fused


@dataclass
class _Group:
    """One param group's tensors as the kernel takes them."""
    group: dict
    params: list[torch.Tensor]
    lists: tuple[list, ...]  # the optimizer's state tensors for these params (momentum; Adam's moments, steps)
    first_step: bool = False  # SGD's momentum buffers are new: the kernel fills them with the gradients


class DirectUpdate:
    """optimizer.step() as one call of its fused kernel per param group (see the module's docstring; a pack
    whose members have their own learning rates has a group per member). update(lr): lr None takes each group's
    (what schedulers set); a tensor on the device, for one group, is what a captured CUDA graph reads."""

    def __init__(self, optimizer: torch.optim.Optimizer, kernel: _SGD | _Adam) -> None:
        self.optimizer, self.kernel = optimizer, kernel
        self.key: tuple | None = None  # the groups below, made again when load_state_dict replaces the groups
        self.groups: list[_Group] = []  # or the state, or a gradient is missing

    @classmethod
    def for_optimizer(cls, optimizer: torch.optim.Optimizer) -> DirectUpdate | None:
        """None where the direct call does not apply: not the fused SGD/Adam/AdamW, or options it does not pass."""
        groups = optimizer.param_groups
        if not all(g.get("fused") and not (g.get("maximize") or g.get("differentiable") or g.get("amsgrad"))
                   for g in groups):
            return None
        if type(optimizer) is torch.optim.SGD:
            return cls(optimizer, _SGD())
        if type(optimizer) in (torch.optim.Adam, torch.optim.AdamW):
            decoupled = groups[0].get("decoupled_weight_decay", type(optimizer) is torch.optim.AdamW)
            return cls(optimizer, _Adam(torch._fused_adamw_ if decoupled else torch._fused_adam_))
        return None

    def ready(self) -> bool:
        """Whether the kernel can run now; the first step creates the optimizer's state."""
        groups, state = self.optimizer.param_groups, self.optimizer.state  # load_state_dict replaces both
        key = (tuple(map(id, groups)), id(state))
        if self.key == key and all(p.grad is not None for g in self.groups for p in g.params):
            return True
        if any(isinstance(group["lr"], torch.Tensor) for group in groups):
            return False
        with_grads = [(group, [p for p in group["params"] if p.grad is not None]) for group in groups]
        new = [(group, params) for group, params in with_grads if params and not self.kernel.ready(group, state, params)]
        if any(state.get(p) for _, params in new for p in params):  # made in part: step() knows what to do with it
            return False
        for group, params in new:  # only once nothing can leave step() a state half made here
            self.kernel.create(group, state, params)
        created = {id(group) for group, _ in new}
        prepared = [_Group(group, params, self.kernel.lists(group, state, params), id(group) in created)
                    for group, params in with_grads if params]
        if not prepared:
            return False
        self.key, self.groups = key, prepared
        self.optimizer._opt_called = True  # what step() tells the schedulers (they warn if it never ran)
        return True

    def __call__(self, lr: torch.Tensor | None = None) -> None:
        if not self.ready():
            self.optimizer.step()
            return
        with torch.no_grad():
            for part in self.groups:
                self.kernel.run(part.group, part.group["lr"] if lr is None else lr, part.params,
                                [p.grad for p in part.params], *part.lists, first_step=part.first_step)
                part.first_step = False


def direct_step(optimizer: torch.optim.Optimizer) -> Callable[[], None]:
    """The fastest call that does exactly what optimizer.step() does."""
    return DirectUpdate.for_optimizer(optimizer) or optimizer.step


class _SGD:
    @staticmethod
    def ready(group: dict, state: dict, params: list) -> bool:
        return not group["momentum"] or all("momentum_buffer" in state.get(p, {}) for p in params)

    @staticmethod
    def create(group: dict, state: dict, params: list) -> None:
        for p in params:
            state[p]["momentum_buffer"] = torch.empty_like(p.grad)

    @staticmethod
    def lists(group: dict, state: dict, params: list) -> tuple[list]:
        return ([state[p]["momentum_buffer"] for p in params] if group["momentum"] else [],)

    @staticmethod
    def run(group: dict, lr: float | torch.Tensor, params: list, grads: list, buffers: list, first_step: bool) -> None:
        torch._fused_sgd_(params, grads, buffers, weight_decay=group["weight_decay"], momentum=group["momentum"],
                          lr=lr, dampening=group["dampening"], nesterov=group["nesterov"], maximize=False,
                          is_first_step=first_step)


class _Adam:
    def __init__(self, kernel: Callable) -> None:
        self.kernel = kernel  # Adam's, or AdamW's (decoupled weight decay)

    @staticmethod
    def ready(group: dict, state: dict, params: list) -> bool:
        return all("step" in state.get(p, {}) for p in params)

    @staticmethod
    def create(group: dict, state: dict, params: list) -> None:
        for p in params:
            _device_dtype_check_for_fused(p)
            state[p].update(step=torch.zeros((), dtype=torch.float32, device=p.device),
                            exp_avg=torch.zeros_like(p, memory_format=torch.preserve_format),
                            exp_avg_sq=torch.zeros_like(p, memory_format=torch.preserve_format))

    @staticmethod
    def lists(group: dict, state: dict, params: list) -> tuple[list, list, list]:
        return ([state[p]["exp_avg"] for p in params], [state[p]["exp_avg_sq"] for p in params],
                [state[p]["step"] for p in params])

    def run(self, group: dict, lr: float | torch.Tensor, params: list, grads: list, exp_avgs: list,
            exp_avg_sqs: list, steps: list, first_step: bool) -> None:  # first_step: nothing differs for Adam
        torch._foreach_add_(steps, 1)
        beta1, beta2 = group["betas"]
        self.kernel(params, grads, exp_avgs, exp_avg_sqs, [], steps, lr=lr, beta1=beta1, beta2=beta2,
                    weight_decay=group["weight_decay"], eps=group["eps"], amsgrad=False, maximize=False)
