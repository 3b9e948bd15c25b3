"""Outputs on a split: one function forwards a whole split in large batches for every command."""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from nnintro.datasets.base import Split
from nnintro.datasets.batches import eval_batches
from nnintro.tasks import SplitOutputs
from nnintro.tasks.base import LossFn


def member_losses(loss_fn: LossFn, outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The per-sample loss of outputs (..., B, width) against targets (B, ...): shape (..., B). A pack's
    members (K, B, width) are scored as one flat batch of K * B samples."""
    members = outputs.shape[:-2]
    flat_targets = y.expand(*members, *y.shape).reshape(-1, *y.shape[1:])
    return loss_fn(outputs.reshape(-1, outputs.shape[-1]), flat_targets).view(outputs.shape[:-1])


@torch.inference_mode()
def run_split(model: nn.Module, split: Split, loss_fn: LossFn, batch_size: int) -> SplitOutputs:
    """Forward the whole split; results come back to the CPU once. A pack gives (K, N, width) outputs."""
    was_training = model.training
    model.eval()
    outputs, losses = [], []
    for x, y in eval_batches(split, batch_size):
        out = model(x).float()
        outputs.append(out)
        losses.append(member_losses(loss_fn, out, y))
    model.train(was_training)
    if not outputs:
        return SplitOutputs(torch.empty(0, 0), split.y.cpu(), torch.empty(0))
    return SplitOutputs(torch.cat(outputs, -2).cpu(), split.y.cpu(), torch.cat(losses, -1).cpu())


def ensemble_outputs(pack: SplitOutputs, combine: Callable[[torch.Tensor], torch.Tensor], loss_fn: LossFn) -> SplitOutputs:
    """A pack's outputs on a split (K, N, width) -> its ensemble's, scored with the same loss."""
    combined = combine(pack.outputs)
    return SplitOutputs(combined, pack.targets, member_losses(loss_fn, combined, pack.targets))


def member_outputs(pack: SplitOutputs, rows: torch.Tensor | None) -> list[SplitOutputs]:
    """Each member's outputs on a split: all of it, or under data.folds the rows (K, N) that are that member's."""
    if rows is None:
        return pack.members
    rows = rows.cpu()
    return [SplitOutputs(member.outputs[mine], member.targets[mine], member.losses[mine])
            for member, mine in zip(pack.members, rows)]


def out_of_fold(pack: SplitOutputs, test_rows: torch.Tensor) -> SplitOutputs:
    """data.folds' test split scored as one model: each row by the one member that never trained on it."""
    owner = test_rows.cpu().to(torch.uint8).argmax(0)
    every = torch.arange(len(owner))
    return SplitOutputs(pack.outputs[owner, every], pack.targets, pack.losses[owner, every])
