"""torch's thread pool never exceeds the cores the process may use: its affinity and its cgroup's CPU quota."""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from nnintro.training.device import fit_threads, usable_cores


def test_the_cgroup_quota_limits_the_cores(tmp_path: Path) -> None:
    affinity = len(os.sched_getaffinity(0))
    (tmp_path / "cpu.max").write_text("150000 100000\n")  # 1.5 CPUs: one thread would not be throttled
    assert usable_cores(tmp_path) == 1
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert usable_cores(tmp_path) == affinity
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()  # cgroup v1
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert usable_cores(tmp_path) == affinity
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    assert usable_cores(tmp_path) == 1
    assert usable_cores(tmp_path / "missing") == affinity


def test_threads_fit_the_affinity() -> None:
    before, affinity = torch.get_num_threads(), os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(affinity)})
        torch.set_num_threads(4)
        assert fit_threads() == 1
    finally:
        os.sched_setaffinity(0, affinity)
        torch.set_num_threads(before)


def test_a_busy_cpu_is_said_once(monkeypatch) -> None:
    """An epoch that waited a fifth of its time or more for a core gets one warning, in the console's
    observers and in what train writes to metrics.json; an idle one gets none."""
    from nnintro.config import load_config
    from nnintro.training import device, trainer
    from nnintro.training.device import RunQueueClock, contention_warning

    assert RunQueueClock().seconds() is not None  # Linux says it
    assert contention_warning(2, 1.0, 0.05, 2) is None and contention_warning(2, 0.1, 0.09, 2) is None
    assert contention_warning(2, 3.0, 1.5, 2).startswith("epoch 2 waited 1.5 s of its 3.0 s for a CPU core")

    monkeypatch.setattr(device, "contention_warning", lambda epoch, seconds, waited, threads:
                        contention_warning(epoch, seconds + 1, seconds + 1, threads))  # as if it waited throughout
    said = []

    class Listener:
        def on_warning(self, message: str) -> None:
            said.append(message)

    config = load_config(None, ["train.epochs=3"])
    data, model = trainer.prepare(config)
    fitted = trainer.Trainer(config, data, model, None, [Listener()])
    fitted.fit()
    assert len(said) == 1 and said[0].startswith("epoch 1 waited") and fitted.contention.message == said[0]

    from nnintro.commands.train import train

    run = train(load_config(None, ["train.epochs=2", "report.plots=false"])).run_dir
    assert json.loads((run / "metrics.json").read_text())["timing_warning"].startswith("epoch 1 waited")
