"""Pick the training device: auto = cuda > mps > cpu; refuse what this machine does not have. Fit torch's
CPU thread pool to the cores this process may really use."""
from __future__ import annotations

import math
import os
from pathlib import Path

import torch

from nnintro.errors import DeviceError


def usable_cores(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The cores this process may run on: its CPU affinity, within its cgroup's CPU quota (a container
    limited to 1.5 CPUs gets 1), at least 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = _cgroup_quota(cgroup)
    return max(1, min(cores, math.floor(quota)) if quota else cores)


def _cgroup_quota(root: Path) -> float | None:
    """CPUs' worth of time per period the cgroup allows (v2 cpu.max, v1 cfs quota); None when unlimited."""
    try:
        if (root / "cpu.max").is_file():
            quota, period = (root / "cpu.max").read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        return None if quota <= 0 else quota / int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None


def fit_threads() -> int:
    """torch's intra-op threads at most the usable cores: more threads than cores make every small GEMM wait
    for a thread that is not running (an epoch then takes many times longer). OMP_NUM_THREADS, which torch
    reads at start-up, still lowers it."""
    cores = usable_cores()
    if torch.get_num_threads() > cores:
        torch.set_num_threads(cores)
    return torch.get_num_threads()


class RunQueueClock:
    """How long this thread waited for a CPU core while runnable (Linux's /proc/thread-self/schedstat): time
    other programs took from training. Unlike CPU time it is not hidden by OpenMP threads spinning."""

    SCHEDSTAT = Path("/proc/thread-self/schedstat")

    def __init__(self) -> None:
        self.started = self._waited()

    def _waited(self) -> float | None:
        try:
            return int(self.SCHEDSTAT.read_text().split()[1]) / 1e9
        except (OSError, ValueError, IndexError):
            return None

    def seconds(self) -> float | None:
        """Seconds waited since this clock started (None where the system does not say)."""
        now = self._waited()
        return None if now is None or self.started is None else now - self.started


class ContentionWatch:
    """On the CPU, says once (message) that an epoch waited a fifth or more of its time for a core."""

    def __init__(self, device: torch.device) -> None:
        self.watching, self.message = device.type == "cpu", None
        self.clock: RunQueueClock | None = None

    def start(self) -> None:
        if self.watching and self.message is None:
            self.clock = RunQueueClock()

    def said(self, epoch: int, epoch_seconds: float) -> str | None:
        """The warning, the first time an epoch since start() deserves it; None otherwise."""
        if self.clock is None or self.message is not None:
            return None
        self.message = contention_warning(epoch, epoch_seconds, self.clock.seconds(), torch.get_num_threads())
        return self.message


def contention_warning(epoch: int, epoch_seconds: float, waited: float | None, threads: int) -> str | None:
    """The warning for an epoch that spent a fifth or more of its time waiting for a core, if it did."""
    if waited is None or epoch_seconds < 0.5 or waited < 0.2 * epoch_seconds:
        return None
    return (f"epoch {epoch} waited {waited:.1f} s of its {epoch_seconds:.1f} s for a CPU core: other programs are "
            f"using this machine's cores, so this run trains slower than the machine can ({threads} torch threads; "
            f"nnintro bench measures its speed); stop them, or set OMP_NUM_THREADS=1")


def select_device(spec: str, field: str = "train.device") -> torch.device:
    """The device a spec names (auto: CUDA, else MPS, else the CPU), refused in one line naming `field` when this
    machine has no such device."""
    fit_threads()
    cuda_count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if spec == "auto":
        return torch.device("cuda" if cuda_count else "mps" if mps else "cpu")
    if spec.startswith("cuda"):
        index = int(spec.partition(":")[2] or 0)
        if cuda_count == 0:
            raise DeviceError(f"{field}: '{spec}' requested but no CUDA GPU is visible; use auto or cpu")
        if index >= cuda_count:
            raise DeviceError(f"{field}: '{spec}' is out of range: this machine has {cuda_count} GPU(s), "
                              f"cuda:0..cuda:{cuda_count - 1}")
        return torch.device("cuda", index)
    if spec == "mps" and not mps:
        raise DeviceError(f"{field}: 'mps' requested but Apple's MPS backend is not available; use auto or cpu")
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
