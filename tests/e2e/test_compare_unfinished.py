"""The lab's headline is safe to run: compare refuses runs that were interrupted or never trained (their numbers
are not a trained model's), lists them marked and unranked with --unfinished, leaves them out of the
probabilities picture, and a Ctrl-C during `compare --configs` stops the whole comparison."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nnintro.cli import app
from nnintro.commands.train import train
from nnintro.config import load_config
from nnintro.reports.console import ConsoleObserver

runner = CliRunner()
QUICK = {"train.epochs": 3, "report.plots": False}


def _interrupted_run(monkeypatch, hook: str, when: int = 1) -> Path:
    """A digits run stopped by one real SIGINT: after epoch `when` (on_epoch_end), or at the first progress
    refresh of epoch 1 (on_step), before that epoch is saved."""
    real, pressed = getattr(ConsoleObserver, hook), []

    def press_ctrl_c(self, *args):
        real(self, *args)
        if not pressed and (hook == "on_step" or args[0]["epoch"] == when):
            pressed.append(True)
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(ConsoleObserver, hook, press_ctrl_c)
    with pytest.raises(KeyboardInterrupt) as caught:
        train(load_config("digits_mlp", [f"{k}={v}" for k, v in QUICK.items()]))
    monkeypatch.setattr(ConsoleObserver, hook, real)
    return caught.value.result.run_dir


def test_interrupted_and_untrained_runs_are_refused_or_listed_unranked(monkeypatch):
    interrupted = _interrupted_run(monkeypatch, "on_epoch_end", 1)
    finished = train(load_config("digits_linear", [f"{k}={v}" for k, v in QUICK.items()])).run_dir
    refused = runner.invoke(app, ["compare", str(finished), str(interrupted)])
    assert refused.exit_code == 2
    assert f"compare: {interrupted} was interrupted after 1 epoch" in refused.output
    assert "--unfinished" in refused.output and "Traceback" not in refused.output
    assert not list(Path("runs").glob("compare-*"))

    listed = runner.invoke(app, ["compare", str(interrupted), str(finished), "--unfinished", "--first-images", "4"])
    assert listed.exit_code == 0, listed.output
    (folder,) = Path("runs").glob("compare-*")
    rows = (folder / "compare.csv").read_text().splitlines()
    assert rows[1].startswith(f"1,{finished.name},")  # the finished run is ranked first, whatever its accuracy
    assert rows[2].startswith(f"-,{interrupted.name},") and "interrupted after 1 epoch: not ranked" in rows[2]
    assert (folder / "compare_probabilities.png").read_bytes().startswith(b"\x89PNG")


def test_a_run_stopped_in_its_first_epoch_is_never_trained(monkeypatch):
    untrained = _interrupted_run(monkeypatch, "on_step")
    result = runner.invoke(app, ["compare", str(untrained)])
    assert result.exit_code == 2 and "was never trained (interrupted before its first epoch ended)" in result.output


def test_ctrl_c_during_compare_configs_stops_the_whole_comparison():
    """The real program: SIGINT while the first config trains ends compare with exit 130; nothing else trains."""
    command = [sys.executable, "-m", "nnintro", "compare", "--configs", "digits_mlp", "digits_linear", "--set",
               "train.epochs=500", "--set", "train.early_stopping.patience=null", "--set", "report.plots=false"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(Path("runs").glob("digits_mlp-*/checkpoint.safetensors")):
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130, output
    assert "nnintro train --resume" in output
    assert [p.name.split("-")[0] for p in Path("runs").iterdir()] == ["digits_mlp"]  # the second never started
