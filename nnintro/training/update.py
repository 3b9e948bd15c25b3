"""optimizer.step() without its wrapper, for the fused SGD, Adam and AdamW that build_optimizer makes.

At batch 64 on the CPU, torch.optim's step() spends more time in Python (hooks, the profiler's record_function,
gathering the state, grouping tensors by device) than in its fused kernel: ~100 us against ~35 us for SGD on the
784-128-10 model. DirectUpdate calls the same kernel with the same arguments on the optimizer's own state
tensors, so checkpoints, resuming and the schedulers (which set the group's lr) see an ordinary optimizer.
The first step goes through step() itself: it creates the state. `tests/training/test_update.py` checks the
weights against step()'s.
"""
from __future__ import annotations

from collections.abc import Callable

import torch


class DirectUpdate:
    """optimizer.step() as one call of its fused kernel (see the module's docstring). update(lr): lr None takes
    the group's (what schedulers set); a tensor on the device is what a captured CUDA graph reads at each replay."""

    def __init__(self, optimizer: torch.optim.Optimizer, kernel: _SGD | _Adam) -> None:
        self.optimizer, self.kernel = optimizer, kernel
        self.key: tuple[int, int] | None = None  # the kernel's tensor lists below, made again when the state
        self.params: list[torch.Tensor] = []  # or the gradients are new objects
        self.grads: list[torch.Tensor] = []
        self.lists: tuple[list, ...] = ()

    @classmethod
    def for_optimizer(cls, optimizer: torch.optim.Optimizer) -> DirectUpdate | None:
        """None where the direct call does not apply: several param groups, or not the fused SGD/Adam/AdamW."""
        groups = optimizer.param_groups
        if len(groups) != 1 or not groups[0].get("fused") or groups[0].get("maximize") \
                or groups[0].get("differentiable") or groups[0].get("amsgrad"):
            return None
        if type(optimizer) is torch.optim.SGD:
            return cls(optimizer, _SGD())
        if type(optimizer) in (torch.optim.Adam, torch.optim.AdamW):
            decoupled = groups[0].get("decoupled_weight_decay", type(optimizer) is torch.optim.AdamW)
            return cls(optimizer, _Adam(torch._fused_adamw_ if decoupled else torch._fused_adam_))
        return None

    def ready(self) -> bool:
        """Whether the kernel can run now (after the first step, which creates the optimizer's state)."""
        group, state = self.optimizer.param_groups[0], self.optimizer.state  # load_state_dict replaces both
        if self.key == (id(group), id(state)) and all(p.grad is g for p, g in zip(self.params, self.grads)):
            return True
        params = [p for p in group["params"] if p.grad is not None]
        if not params or not self.kernel.ready(group, state, params) or isinstance(group["lr"], torch.Tensor):
            return False
        self.key, self.params, self.grads = (id(group), id(state)), params, [p.grad for p in params]
        self.lists = self.kernel.lists(group, state, params)
        return True

    def __call__(self, lr: torch.Tensor | None = None) -> None:
        if not self.ready():
            self.optimizer.step()
            return
        group = self.optimizer.param_groups[0]
        with torch.no_grad():
            self.kernel.run(group, group["lr"] if lr is None else lr, self.params, self.grads, *self.lists)


def direct_step(optimizer: torch.optim.Optimizer) -> Callable[[], None]:
    """The fastest call that does exactly what optimizer.step() does."""
    return DirectUpdate.for_optimizer(optimizer) or optimizer.step


class _SGD:
    @staticmethod
    def ready(group: dict, state: dict, params: list) -> bool:
        return not group["momentum"] or all("momentum_buffer" in state.get(p, {}) for p in params)

    @staticmethod
    def lists(group: dict, state: dict, params: list) -> tuple[list]:
        return ([state[p]["momentum_buffer"] for p in params] if group["momentum"] else [],)

    @staticmethod
    def run(group: dict, lr: float | torch.Tensor, params: list, grads: list, buffers: list) -> None:
        torch._fused_sgd_(params, grads, buffers, weight_decay=group["weight_decay"], momentum=group["momentum"],
                          lr=lr, dampening=group["dampening"], nesterov=group["nesterov"], maximize=False,
                          is_first_step=False)


class _Adam:
    def __init__(self, kernel: Callable) -> None:
        self.kernel = kernel  # Adam's, or AdamW's (decoupled weight decay)

    @staticmethod
    def ready(group: dict, state: dict, params: list) -> bool:
        return all("step" in state.get(p, {}) for p in params)

    @staticmethod
    def lists(group: dict, state: dict, params: list) -> tuple[list, list, list]:
        return ([state[p]["exp_avg"] for p in params], [state[p]["exp_avg_sq"] for p in params],
                [state[p]["step"] for p in params])

    def run(self, group: dict, lr: float | torch.Tensor, params: list, grads: list, exp_avgs: list,
            exp_avg_sqs: list, steps: list) -> None:
        torch._foreach_add_(steps, 1)
        beta1, beta2 = group["betas"]
        self.kernel(params, grads, exp_avgs, exp_avg_sqs, [], steps, lr=lr, beta1=beta1, beta2=beta2,
                    weight_decay=group["weight_decay"], eps=group["eps"], amsgrad=False, maximize=False)
