"""Multi-process training under torchrun (DDP): who this process is, and the process group's lifetime.

Without torchrun's environment (WORLD_SIZE unset or 1) everything here is a no-op: one process, rank 0.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from nnintro.errors import DeviceError


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def from_environment() -> Distributed:
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    return Distributed(int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")), world_size)


def rank_device(dist: Distributed, device: torch.device) -> torch.device:
    """Under torchrun each process drives the GPU of its local rank."""
    if not dist.enabled or device.type != "cuda":
        return device
    if dist.local_rank >= torch.cuda.device_count():
        raise DeviceError(f"torchrun started local rank {dist.local_rank}, but this machine has "
                          f"{torch.cuda.device_count()} GPU(s); lower --nproc_per_node")
    return torch.device("cuda", dist.local_rank)


@contextmanager
def process_group(dist: Distributed, device: torch.device) -> Iterator[None]:
    """nccl between GPUs, gloo between CPU processes; torn down however training ends."""
    if not dist.enabled:
        yield
        return
    import torch.distributed as torch_dist

    if device.type == "cuda":
        torch.cuda.set_device(device)
    torch_dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield
        # leave together: rank 0 still writes the reports while the others are done, and a process that
        # tears its group down while a peer is connected can abort in gloo ("terminate called ...")
        torch_dist.barrier()
    finally:
        torch_dist.destroy_process_group()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    import torch.distributed as torch_dist

    tensor = tensor.clone()
    torch_dist.all_reduce(tensor)
    return tensor


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank if it is true on any: keeps collective decisions (stop, diverge) in step."""
    return bool(all_reduce_sum(torch.tensor(float(flag), device=device)) > 0)
