"""Pick the training device: auto = cuda > mps > cpu; refuse what this machine does not have."""
from __future__ import annotations

import torch

from nnintro.errors import DeviceError


def select_device(spec: str) -> torch.device:
    cuda_count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if spec == "auto":
        return torch.device("cuda" if cuda_count else "mps" if mps else "cpu")
    if spec.startswith("cuda"):
        index = int(spec.partition(":")[2] or 0)
        if cuda_count == 0:
            raise DeviceError(f"train.device: '{spec}' requested but no CUDA GPU is visible; use auto or cpu")
        if index >= cuda_count:
            raise DeviceError(f"train.device: '{spec}' is out of range: this machine has {cuda_count} GPU(s), "
                              f"cuda:0..cuda:{cuda_count - 1}")
        return torch.device("cuda", index)
    if spec == "mps" and not mps:
        raise DeviceError("train.device: 'mps' requested but Apple's MPS backend is not available; use auto or cpu")
    return torch.device(spec)


def check_precision(device: torch.device, precision: str) -> None:
    """Refuse a precision the device cannot train in, before any work is done."""
    if precision == "16" and device.type != "cuda":
        raise DeviceError(f"train.precision: '16' (fp16 with a grad scaler) needs a CUDA GPU, the device is {device}; "
                          f"use 32, or bf16")
    if precision == "bf16" and device.type == "mps":
        raise DeviceError("train.precision: 'bf16' is not supported on mps; use 32")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise DeviceError(f"train.precision: this GPU ({torch.cuda.get_device_name(device)}) has no bf16; use 16 or 32")
