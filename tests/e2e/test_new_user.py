"""What a new user meets first: versions, help, the list of configs and runs, next steps, hints and warnings."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from nnintro import __version__
from nnintro.cli import app

runner = CliRunner()
QUICK = ["--set", "train.epochs=2", "--set", "report.plots=false"]


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_version_help_and_configs():
    assert f"nnintro {__version__} (torch " in invoke("--version").output
    bare = invoke()
    assert "Usage: " in bare.output and "Commands" in bare.output and "train" in bare.output
    flags = [line for command in (["--help"], ["predict", "--help"], ["eval", "--help"])
             for line in invoke(*command).output.splitlines()
             if any(flag in line for flag in ("--debug", "--version", "--json", "--force", "--invert", "--center"))]
    assert flags and not [line for line in flags if "<bool>" in line]  # (typer draws its own --help's)
    listed = invoke("configs").output
    assert "mnist_mlp" in listed and "diabetes_mlp" in listed and "offline default" in listed


def test_after_training_next_steps_eval_json_and_the_runs_table():
    trained = invoke("train", *QUICK)
    assert trained.exit_code == 0 and "next: nnintro eval runs/digits_mlp-" in trained.output
    (run,) = Path("runs").iterdir()
    assert json.loads((run / "model.json").read_text())["torch_version"]
    evaluated = invoke("eval", str(run), "--json")
    assert json.loads(evaluated.stdout)["accuracy"] == json.loads((run / "metrics.json").read_text())["test"]["accuracy"]
    assert invoke("compare", str(run)).exit_code == 0  # leaves a compare-* folder among the runs
    everything = invoke("compare", *map(str, Path("runs").iterdir()))
    assert everything.exit_code == 0 and "skipped 1 report folder" in everything.output
    table = invoke("runs").output
    assert run.name in table and "digits" in table and "completed" in table and "compare-" not in table


def test_early_stopping_says_why_and_bad_runs_are_warned_about():
    stopped = invoke("train", "--set", "optimizer.lr=0.05", "--set", "train.early_stopping.patience=1",
                     "--set", "report.plots=false")
    assert "did not improve for 1 epochs; kept epoch" in stopped.output
    exploded = invoke("train", "--set", "optimizer.name=sgd", "--set", "optimizer.lr=1e4", *QUICK)
    assert "warning: the training loss exploded" in exploded.output and "lr-find" in exploded.output
    assert "chance level" in exploded.output


def test_compare_configs_takes_set_and_lr_find_keeps_overrides():
    compared = invoke("compare", "--configs", "digits_linear", "xor_linear", "--set", "train.epochs=1",
                      "--set", "report.plots=false")
    assert compared.exit_code == 0, compared.output
    epochs = [json.loads(m.read_text())["epochs_run"] for m in Path("runs").glob("*/metrics.json")]
    assert epochs == [1, 1]
    found = invoke("lr-find", "-c", "digits_mlp", "--set", "data.batch_size=32", "--steps", "10")
    assert "try: nnintro train --config digits_mlp --set data.batch_size=32 --set optimizer.lr=" in found.output


def test_predict_hints_at_invert_and_centres_drawings(tmp_path):
    from PIL import Image, ImageDraw

    assert invoke("train", *QUICK).exit_code == 0
    (run,) = Path("runs").iterdir()
    paper = Image.new("L", (120, 90), 250)
    ImageDraw.Draw(paper).line([(10, 10), (40, 10), (25, 60)], fill=0, width=5)
    paper.save(tmp_path / "seven.png")
    plain = json.loads(invoke("predict", str(run), str(tmp_path / "seven.png"), "--json").stdout)[0]
    assert "--invert" in plain["hint"]
    centred = json.loads(invoke("predict", str(run), str(tmp_path / "seven.png"), "--invert", "--center",
                                "--json").stdout)[0]
    assert "hint" not in centred and "centred by mass" in centred["centered"]


def test_center_puts_the_ink_in_the_middle():
    from nnintro.datasets.inputs import center_like_mnist

    drawing = np.zeros((90, 120), np.float32)
    drawing[5:35, 4:20] = 255  # ink in the top-left corner
    frame = center_like_mnist(drawing, 28, 28)
    rows, columns = np.nonzero(frame)
    assert abs(rows.mean() - 14) < 1.5 and abs(columns.mean() - 14) < 1.5 and np.ptp(rows) <= 20
