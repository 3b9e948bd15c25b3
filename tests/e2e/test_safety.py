"""Nothing lost, nothing unsafe: kill -9 and resume, Ctrl-C, divergence, tampered files, concurrent runs."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nnintro.cli import app
from nnintro.run_folder.layout import create_run_dir

runner = CliRunner()
# dropout, augmentation with mixup (random draws), batch norm (running statistics) and two members: everything a
# resumed run must restore exactly
TRAIN = ["train", "--set", "train.epochs=20", "--set", "train.early_stopping.patience=null", "--set", "model.dropout=0.2",
         "--set", "scheduler=cosine", "--set", "report.plots=false", "--set", "model.norm=batch", "--members", "2",
         "--set", "data.augment={shift: 1, rotate: 8, elastic: 1, cutout: 2, mixup: 0.2}"]


def comparable(metrics: dict) -> dict:
    """The metrics that must not depend on when training ran (not the timings; the reference's steps.csv text
    is compared on its own)."""
    return {k: v for k, v in metrics.items()
            if not any(word in k for word in ("seconds", "per_second", "timing")) and k != "steps.csv"}


def start_training(name: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nnintro", *TRAIN, "--set", f"name={name}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_epochs(run_glob: str, epochs: int, timeout: float = 60) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for history in Path("runs").glob(f"{run_glob}/history.csv"):
            if len(history.read_text().splitlines()) > epochs:
                return history.parent
        time.sleep(0.01)
    raise AssertionError("training did not reach the expected epoch in time")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("reference")
    result = subprocess.run([sys.executable, "-m", "nnintro", *TRAIN, "--runs-dir", str(folder)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    (run,) = folder.iterdir()
    return {**json.loads((run / "metrics.json").read_text()), "steps.csv": (run / "steps.csv").read_text()}


@pytest.mark.parametrize("kill_after_epochs", [3, 11])
def test_kill_9_then_resume_matches_an_uninterrupted_run(uninterrupted, kill_after_epochs):
    process = start_training("killed")
    run = wait_for_epochs("killed-*", kill_after_epochs)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (run / "metrics.json").exists()
    result = runner.invoke(app, ["train", "--resume", str(run)])
    assert result.exit_code == 0, result.output
    resumed = json.loads((run / "metrics.json").read_text())
    assert comparable(resumed) == comparable(uninterrupted)
    assert len((run / "history.csv").read_text().splitlines()) == 21
    assert (run / "steps.csv").read_text() == uninterrupted["steps.csv"]  # every step's loss, none twice


def test_ctrl_c_saves_and_prints_the_resume_command(uninterrupted):
    process = start_training("interrupted")
    run = wait_for_epochs("interrupted-*", 5)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert f"nnintro train --resume {run}" in err
    assert json.loads((run / "metrics.json").read_text())["status"] == "interrupted"
    result = runner.invoke(app, ["train", "--resume", str(run)])
    assert result.exit_code == 0, result.output
    assert comparable(json.loads((run / "metrics.json").read_text())) == comparable(uninterrupted)
    assert (run / "steps.csv").read_text() == uninterrupted["steps.csv"]


def test_resume_refuses_to_change_the_model():
    assert runner.invoke(app, ["train", "--set", "train.epochs=1", "--set", "report.plots=false"]).exit_code == 0
    (run,) = Path("runs").iterdir()
    result = runner.invoke(app, ["train", "--resume", str(run), "--set", "model.hidden=[7]"])
    assert result.exit_code == 2 and "model.hidden: cannot change on --resume" in result.output
    result = runner.invoke(app, ["train", "--resume", str(run), "--set", "train.epochs=2"])
    assert result.exit_code == 0 and json.loads((run / "metrics.json").read_text())["epochs_run"] == 2


@pytest.mark.parametrize("scheduler", ["step", "plateau", "onecycle", "cosine"])
def test_every_scheduler_resumes(scheduler):
    args = ["train", "--set", f"scheduler={scheduler}", "--set", "train.epochs=2", "--set", "report.plots=false"]
    assert runner.invoke(app, args).exit_code == 0
    (run,) = Path("runs").iterdir()
    longer = runner.invoke(app, ["train", "--resume", str(run), "--set", "train.epochs=3"])
    if scheduler in ("onecycle", "cosine"):
        assert longer.exit_code == 2 and "laid out for 2 epochs" in longer.output
    else:
        assert longer.exit_code == 0, longer.output
        assert json.loads((run / "metrics.json").read_text())["epochs_run"] == 3


def test_huge_learning_rate_ends_as_diverged_with_best_weights_kept():
    result = runner.invoke(app, ["train", "--set", "optimizer=sgd", "--set", "optimizer.lr=1e6", "--set",
                                 "model.activation=identity"])
    assert result.exit_code == 3
    assert "diverged" in result.output and "lower optimizer.lr" in result.output
    (run,) = Path("runs").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "diverged" and np.isfinite(metrics["test"]["loss"])
    assert runner.invoke(app, ["eval", str(run)]).exit_code == 0


@pytest.fixture
def digits_run() -> Path:
    assert runner.invoke(app, ["train", "--set", "train.epochs=2", "--set", "report.plots=false"]).exit_code == 0
    (run,) = Path("runs").iterdir()
    return run


@pytest.mark.parametrize("damage, expected", [
    (lambda r: (r / "model.safetensors").write_bytes(b"\x00" * 3), "model.safetensors: not a valid safetensors file"),
    (lambda r: (r / "model.json").write_text("{not json"), "model.json: not readable JSON"),
    (lambda r: (r / "model.json").write_text(json.dumps({**json.loads((r / "model.json").read_text()),
                                                          "architecture": {"kind": "mlp"}})), "model.json: "),
    (lambda r: (r / "model.json").write_text((r / "model.json").read_text().replace("128", "10000000000")),
     "model.safetensors: tensor"),
    (lambda r: (r / "config.yaml").write_text("model: {hidden: [-1]}"), "model.hidden[0]: must be > 0"),
])
def test_tampered_runs_get_a_clear_error(digits_run, damage, expected):
    damage(digits_run)
    result = runner.invoke(app, ["eval", str(digits_run)])
    assert result.exit_code == 2, result.output
    assert expected in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_truncated_checkpoint_cannot_be_resumed(digits_run):
    checkpoint = digits_run / "checkpoint.safetensors"
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    result = runner.invoke(app, ["train", "--resume", str(digits_run)])
    assert result.exit_code == 2 and "checkpoint.safetensors: not a valid safetensors file" in result.output


def test_bad_images_are_named_and_the_rest_predicted(digits_run, tmp_path):
    from PIL import Image

    good = tmp_path / "good.png"
    Image.new("L", (40, 40), 200).save(good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:40])
    (tmp_path / "empty.png").write_bytes(b"")
    huge = tmp_path / "huge.png"
    Image.new("1", (9000, 9000)).save(huge)
    files = [str(tmp_path / n) for n in ("empty.png", "truncated.png", "huge.png", "good.png")]
    result = runner.invoke(app, ["predict", str(digits_run), *files, "--json"])
    assert result.exit_code == 2
    out = {Path(item["file"]).name: item for item in json.loads(result.stdout)}
    assert "file is empty" in out["empty.png"]["error"]
    assert "truncated.png" in out["truncated.png"]["error"]
    assert "too large" in out["huge.png"]["error"]
    assert out["good.png"]["prediction"] in [str(d) for d in range(10)]


@pytest.mark.parametrize("args, expected", [
    (["train", "--runs-dir", "blocker/runs"], "cannot create runs folder blocker/runs"),
    (["train", "--set", "train.device=cuda:7"], "train.device: 'cuda:7'"),
    (["train", "--set", "train.precision=16", "--set", "train.device=cpu"], "train.precision: '16'"),
])
def test_unusable_places_and_devices(args, expected):
    Path("blocker").write_text("a file where a folder should be")
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and expected in result.output, result.output


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path):
    made: list[Path] = []
    threads = [threading.Thread(target=lambda: made.append(create_run_dir(tmp_path / "runs", "same"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 8 and all(p.is_dir() for p in made)


def test_resuming_a_finished_run_trains_nothing_more():
    args = ["train", "--set", "train.epochs=40", "--set", "train.early_stopping.patience=2", "--set", "optimizer.lr=0.05",
            "--set", "report.plots=false"]
    assert runner.invoke(app, args).exit_code == 0
    (run,) = Path("runs").iterdir()
    before = json.loads((run / "metrics.json").read_text())
    assert before["stopped_early"]
    resumed = runner.invoke(app, ["train", "--resume", str(run)])
    assert resumed.exit_code == 0 and "nothing left to do" in resumed.output
    after = json.loads((run / "metrics.json").read_text())
    assert comparable(after) == comparable(before)
