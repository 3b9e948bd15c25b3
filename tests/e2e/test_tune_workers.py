"""tune's workers for real: two worker processes on one local storage finish the study with no trial trained
twice, and a worker killed with SIGKILL mid-trial leaves a trial that is failed and asked again, never a study
that is stuck."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from nnintro.commands.tune import open_storage  # noqa: E402

QUICK = ["--set", "train.epochs=3", "--set", "report.plots=false", "--set", "model.hidden=[16]"]


def nnintro(*arguments: str, **options) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nnintro", *arguments], capture_output=True, text=True, timeout=300,
                          **options)


def study_trials(name: str) -> list:
    storage, _ = open_storage(None, Path("runs") / name, 120)
    return optuna.load_study(study_name=name, storage=storage).get_trials()


def test_two_workers_finish_the_study_with_no_trial_twice():
    result = nnintro("tune", "--config", "digits_mlp", *QUICK, "--space", "optimizer.lr=log(1e-3,1e-1)",
                     "--trials", "4", "--pack", "1", "--workers", "2", "--confirm", "0", "--study", "two")
    assert result.returncode == 0, result.stderr
    trials = study_trials("two")
    finished = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(finished) == 4 and len({t.number for t in finished}) == 4
    assert len({t.user_attrs["run"] for t in finished}) == 4  # four run folders, each trained once
    logs = [Path("runs/two/worker-1.log").read_text(), Path("runs/two/worker-2.log").read_text()]
    assert all("trial" in log for log in logs)  # both workers trained trials


def test_a_worker_killed_mid_trial_does_not_stop_the_study():
    from nnintro.commands.tune import StudyRecord, load_study

    # trials of 40 epochs (seconds): long enough to be killed in the middle
    record = StudyRecord("digits_mlp", ["train.epochs=40", "train.early_stopping.patience=1000", "report.plots=false",
                                        "model.hidden=[16]"], {"optimizer.lr": "log(0.001, 0.1)"}, "accuracy",
                         "maximize", "", "tpe", "none", 0)
    storage, url = open_storage(None, Path("runs/killed"), 3)
    load_study("killed", storage, record, resume=False)
    worker = subprocess.Popen([sys.executable, "-m", "nnintro", "tune", "--study", "killed", "--storage", url,
                               "--worker", "--trials", "2", "--pack", "1", "--grace", "3"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, running = time.monotonic() + 120, []
    while time.monotonic() < deadline and not running:  # its trial runs and has sent a heartbeat (an epoch ended)
        running = [t for t in study_trials("killed") if t.state.name == "RUNNING" and t.intermediate_values]
        time.sleep(0.2)
    assert running, "the worker never started a trial"
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    time.sleep(4)  # past the grace period: its heartbeat is stale
    resumed = nnintro("tune", "--study", "killed", "--resume", "--trials", "2", "--grace", "3", "--pack", "1",
                      "--confirm", "0")
    assert resumed.returncode == 0, resumed.stderr
    trials = study_trials("killed")
    states = [t.state.name for t in trials]
    assert trials[running[0].number].state.name == "FAIL" and states.count("COMPLETE") == 2, states
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == running[0].number]
    assert retried and retried[0].state.name == "COMPLETE" and retried[0].params == running[0].params
