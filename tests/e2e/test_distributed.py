"""torchrun with two gloo processes on the CPU: one run folder, the same weights as one process (a pack of two
members with their own learning rates, so DDP is checked with members and per-member hyperparameters)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

ARGS = ["train", "--set", "train.epochs=3", "--set", "train.early_stopping.restore_best=false",
        "--set", "report.plots=false", "--set", "scheduler=cosine", "--set", "model.hidden=[32,16]",
        "--set", "train.members=2", "--set", "train.vary={optimizer.lr: [0.001, 0.003]}"]


def run(command: list[str], runs_dir: Path) -> Path:
    result = subprocess.run([*command, *ARGS, "--runs-dir", str(runs_dir)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-8000:]
    (folder,) = list(runs_dir.iterdir())
    return folder


def test_two_gloo_processes_match_one_process(tmp_path):
    single = run([sys.executable, "-m", "nnintro"], tmp_path / "single")
    ddp = run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "nnintro"],
              tmp_path / "ddp")
    single_weights, ddp_weights = load_file(single / "model.safetensors"), load_file(ddp / "model.safetensors")
    for name, value in single_weights.items():
        assert torch.allclose(value, ddp_weights[name], atol=1e-4), name
    single_metrics = json.loads((single / "metrics.json").read_text())
    ddp_metrics = json.loads((ddp / "metrics.json").read_text())
    assert ddp_metrics["processes"] == 2 and single_metrics["processes"] == 1
    assert abs(ddp_metrics["test"]["accuracy"] - single_metrics["test"]["accuracy"]) <= 1 / 360
    assert [m["optimizer.lr"] for m in ddp_metrics["members"]] == [0.001, 0.003]
    history = (ddp / "history.csv").read_text().splitlines()
    assert len(history) == 4
