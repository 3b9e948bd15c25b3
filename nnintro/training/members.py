"""Per-member training state of a pack, in one place: each member's early stopping, whether it diverged,
its best weights (its rows of the packed tensors) and which members are frozen. A single model is a pack of
one, so this is also the single model's early stopping and divergence guard."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from nnintro.models.layers import member_count, member_tensors

TRAINING, STOPPED_EARLY, DIVERGED, COMPLETED = "training", "stopped_early", "diverged", "completed"
PRUNED = "pruned"  # stopped by a hyperparameter search (nnintro tune) as a trial that will not win


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


@dataclass
class Member:
    early: EarlyStopping
    status: str = TRAINING
    message: str = ""

    def state(self) -> dict[str, Any]:
        return {**self.early.state(), "status": self.status, "message": self.message}


class Members:
    def __init__(self, model: nn.Module, frozen: FrozenMembers, count: int, monitor: str, higher_is_better: bool,
                 min_delta: float, patience: int | None, restore_best: bool) -> None:
        self.model, self.frozen, self.restore_best = model, frozen, restore_best
        self.members = [Member(EarlyStopping(monitor, higher_is_better, min_delta, patience)) for _ in range(count)]
        self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.packed = member_tensors(model)  # leading dimension: the member

    @classmethod
    def for_config(cls, model: nn.Module, frozen: FrozenMembers, task: Any, early: Any) -> Members:
        """The pack's members with the early stopping of train.early_stopping, watching the task's metric."""
        monitor = task.check_monitor(early.monitor)
        return cls(model, frozen, member_count(model), monitor, task.higher_is_better[monitor], early.min_delta,
                   early.patience, early.restore_best)

    def __len__(self) -> int:
        return len(self.members)

    def __getitem__(self, index: int) -> Member:
        return self.members[index]

    @property
    def training(self) -> list[int]:
        return [k for k, member in enumerate(self.members) if member.status == TRAINING]

    @property
    def alive(self) -> list[int]:
        """The members that did not diverge: the ones averaged in history and the summary."""
        return [k for k, member in enumerate(self.members) if member.status != DIVERGED]

    def _copy_rows(self, source: dict[str, torch.Tensor], target: dict[str, torch.Tensor], members: list[int]) -> None:
        with torch.no_grad():
            for name in self.packed:
                target[name][members] = source[name][members]

    def _freeze(self) -> None:
        self.frozen.freeze([k for k, member in enumerate(self.members) if member.status != TRAINING])

    def check_finite(self, step_losses: torch.Tensor, epoch: int, lrs: list[float]) -> None:
        """step_losses (steps, K): a training member whose loss became NaN/inf is marked diverged, put back to
        its best weights and frozen, while the others go on."""
        finite = torch.isfinite(step_losses).all(0).tolist()
        diverged = [k for k in self.training if not finite[k]]
        for k in diverged:
            step = int((~torch.isfinite(step_losses[:, k])).nonzero()[0]) + 1
            self.members[k].status = DIVERGED
            self.members[k].message = (f"loss became {float(step_losses[step - 1, k])} at epoch {epoch}, step {step}; "
                                       f"try a lower optimizer.lr (now {lrs[k]:g})")
        if diverged:
            self._copy_rows(self.best_state, self.model.state_dict(), diverged)
            self._freeze()

    def end_epoch(self, epoch: int, monitored: list[float], last_epoch: bool) -> bool:
        """Each training member's monitored val metric; True if any member improved (new best weights). A member
        whose patience ran out before the last epoch stops: best weights back (restore_best), frozen."""
        improved = [k for k in self.training if self.members[k].early.update(epoch, monitored[k])]
        self._copy_rows(self.model.state_dict(), self.best_state, improved)
        self._stop(STOPPED_EARLY, {k: self.members[k].early.reason(epoch, self.restore_best) for k in self.training
                                   if self.members[k].early.should_stop and not last_epoch})
        return bool(improved)

    def prune(self, verdicts: dict[int, str]) -> None:
        """Stop these training members (member -> why) as early stopping would; the others go on."""
        self._stop(PRUNED, {k: why for k, why in verdicts.items() if k in self.training})

    def _stop(self, status: str, messages: dict[int, str]) -> None:
        """Members that stop training (member -> why): best weights back under restore_best, then frozen."""
        for k, message in messages.items():
            self.members[k].status, self.members[k].message = status, message
        if messages:
            if self.restore_best:
                self._copy_rows(self.best_state, self.model.state_dict(), list(messages))
            self._freeze()

    def finish(self, restore_all: bool) -> None:
        """The weights the run keeps: best rows for every member under restore_best (or restore_all, after an
        interruption); diverged members already hold theirs."""
        if self.restore_best or restore_all:
            self._copy_rows(self.best_state, self.model.state_dict(), self.alive)

    def history_row(self, epoch: int, train: dict[str, torch.Tensor], val: list[dict[str, float]], lr: float,
                    seconds: float) -> dict[str, float]:
        """history.csv's row: the members' mean (over those that did not diverge); with several members, each
        member's own numbers too (member<k>/train/loss, ...). train: (K,) tensors; val: each member's metrics."""
        per_member = [{**{key: float(values[k]) for key, values in train.items()},
                       **{f"val/{name}": value for name, value in val[k].items()}} for k in range(len(self))]
        alive = self.alive or list(range(len(self)))
        row = {"epoch": epoch, **{key: sum(per_member[k][key] for k in alive) / len(alive) for key in per_member[0]}}
        row.update(lr=lr, epoch_seconds=seconds)
        if len(self) > 1:
            row.update({f"member{k}/{key}": value for k, numbers in enumerate(per_member) for key, value in numbers.items()})
        return row

    def outcome(self, status: str) -> tuple[str, str]:
        """The run's status and message from the loop's: stopped early when every member that did not diverge
        stopped early; one member's message, or a line about each member that stopped or diverged."""
        ended = [self.members[k].status for k in self.alive]
        if status == COMPLETED and ended and all(s == PRUNED for s in ended):
            status = PRUNED
        elif status == COMPLETED and ended and all(s in (STOPPED_EARLY, PRUNED) for s in ended):
            status = STOPPED_EARLY
        if len(self) == 1:
            return status, self.members[0].message
        parts = [f"member {k} diverged: {m.message}" if m.status == DIVERGED else f"member {k} {m.message}"
                 for k, m in enumerate(self.members) if m.status != TRAINING]
        return status, "; ".join(parts)

    def records(self) -> list[dict[str, Any]]:
        """Each member's status (completed, stopped_early, diverged, pruned), message and best epoch."""
        return [{"status": COMPLETED if m.status == TRAINING else m.status, "message": m.message,
                 "best_epoch": m.early.best_epoch} for m in self.members]

    @property
    def best_epoch(self) -> int:
        return max((self.members[k].early.best_epoch for k in self.alive), default=0)

    def state(self) -> list[dict[str, Any]]:
        return [member.state() for member in self.members]

    def load_state(self, states: list[dict[str, Any]], best_state: dict[str, torch.Tensor]) -> None:
        for member, saved in zip(self.members, states):
            for key in ("best", "best_epoch", "bad_epochs"):
                setattr(member.early, key, saved[key])
            # checkpoints written before members recorded no status: one that had run out of patience had stopped
            stopped = STOPPED_EARLY if member.early.should_stop else TRAINING
            member.status, member.message = saved.get("status", stopped), saved.get("message", "")
        self.best_state = best_state
        self._freeze()


class FrozenMembers:
    """Members that stopped (early stopping, divergence) keep their weights: their rows of every packed tensor
    are put back after each step (their optimizer state may move; they never train again)."""

    def __init__(self, model: nn.Module) -> None:
        state = model.state_dict()  # views of the live tensors: weights and running statistics
        self.parameters = [state[name] for name in member_tensors(model)]
        self.index: torch.Tensor | None = None
        self.rows: list[torch.Tensor] = []

    def freeze(self, members: list[int]) -> None:
        """Freeze these members (all frozen ones, not only new ones) at their current weights."""
        if not members:
            self.index, self.rows = None, []
            return
        self.index = torch.tensor(sorted(members), device=self.parameters[0].device)
        self.rows = [p.detach().index_select(0, self.index) for p in self.parameters]

    def restore(self) -> None:
        if self.index is not None:
            with torch.no_grad():
                for parameter, rows in zip(self.parameters, self.rows):
                    parameter.index_copy_(0, self.index, rows)
