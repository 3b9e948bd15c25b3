"""Ctrl-C during a training called in-process (a test runner, a notebook): the run is saved, the caller gets the
KeyboardInterrupt (so pytest stops as its user asked), and the signal handlers are the caller's again."""
from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from nnintro.commands.train import TrainingInterrupted, train
from nnintro.config import validate
from nnintro.reports.console import ConsoleObserver


def test_ctrl_c_reaches_the_caller_after_the_run_is_saved(monkeypatch):
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    real = ConsoleObserver.on_epoch_end

    def press_ctrl_c_after_epoch_2(self, row):
        real(self, row)
        if row["epoch"] == 2:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(ConsoleObserver, "on_epoch_end", press_ctrl_c_after_epoch_2)
    with pytest.raises(KeyboardInterrupt) as caught:
        train(validate({"train": {"epochs": 10}, "report": {"plots": False}}))
    assert isinstance(caught.value, TrainingInterrupted) and "--resume" in str(caught.value)
    (run,) = Path("runs").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and metrics["epochs_run"] == 2
    assert {sig: signal.getsignal(sig) for sig in before} == before
