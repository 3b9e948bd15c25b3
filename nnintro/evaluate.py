"""Outputs on a split: one function forwards a whole split in large batches for every command."""
from __future__ import annotations

import torch
from torch import nn

from nnintro.datasets.base import Split
from nnintro.datasets.batches import eval_batches
from nnintro.tasks import SplitOutputs
from nnintro.tasks.base import LossFn


@torch.inference_mode()
def run_split(model: nn.Module, split: Split, loss_fn: LossFn, batch_size: int) -> SplitOutputs:
    """Forward the whole split; results come back to the CPU once."""
    was_training = model.training
    model.eval()
    outputs, losses = [], []
    for x, y in eval_batches(split, batch_size):
        out = model(x).float()
        outputs.append(out)
        losses.append(loss_fn(out, y))
    model.train(was_training)
    if not outputs:
        return SplitOutputs(torch.empty(0, 0), split.y.cpu(), torch.empty(0))
    return SplitOutputs(torch.cat(outputs).cpu(), split.y.cpu(), torch.cat(losses).cpu())
