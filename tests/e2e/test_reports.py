"""Reports: the pictures exist, TensorBoard holds scalars/images/hparams, a real server lists the tags,
and compare shows the runs' own numbers."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from nnintro.cli import app

runner = CliRunner()


def train(*args: str) -> Path:
    before = set(Path("runs").iterdir()) if Path("runs").exists() else set()
    result = runner.invoke(app, ["train", *args])
    assert result.exit_code == 0, result.output
    (run,) = set(Path("runs").iterdir()) - before
    return run.resolve()


@pytest.fixture(scope="module")
def runs(tmp_path_factory, mnist_root_module) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("reports")
    import os

    old = os.getcwd()
    os.chdir(folder)
    try:
        made = {"mnist_mlp": train("-c", "mnist_mlp", "--set", f"data.root={mnist_root_module}", "--set",
                                   "train.epochs=2", "--set", "model.hidden=[32]", "--set", "report.examples=6"),
                "mnist_linear": train("-c", "mnist_linear", "--set", f"data.root={mnist_root_module}", "--set",
                                      "train.epochs=2", "--set", "report.histograms=true"),
                "xor_mlp": train("-c", "xor_mlp", "--set", "train.epochs=5")}
    finally:
        os.chdir(old)
    return made


@pytest.fixture(scope="module")
def mnist_root_module(tmp_path_factory) -> Path:
    from conftest import make_idx_dataset

    root = tmp_path_factory.mktemp("data")
    make_idx_dataset(root)
    return root


def png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


def test_image_runs_get_every_picture(runs):
    for name in ("confusion_matrix", "probabilities", "top_losses", "curves", "first_layer"):
        width, height = png_size(runs["mnist_mlp"] / f"{name}.png")
        assert width > 300 and height > 200, name
    assert (runs["mnist_linear"] / "templates.png").is_file() and not (runs["mnist_linear"] / "first_layer.png").exists()
    rows = (runs["mnist_mlp"] / "confusion_matrix.csv").read_text().splitlines()
    assert len(rows) == 11 and rows[0].startswith("true \\ predicted,0,1")
    assert sum(int(v) for row in rows[1:] for v in row.split(",")[1:]) == 200


def test_playground_runs_get_a_decision_boundary(runs):
    assert png_size(runs["xor_mlp"] / "decision_boundary.png")[0] > 300
    assert png_size(runs["xor_mlp"] / "decision_boundary_epochs.png")[0] > 600  # the strip of chosen epochs
    assert png_size(runs["xor_mlp"] / "hidden_units.png")[0] > 600  # one map per hidden unit (8)
    with Image.open(runs["xor_mlp"] / "decision_boundary.gif") as animation:  # from the untrained model on
        epochs = json.loads((runs["xor_mlp"] / "metrics.json").read_text())["epochs_run"]
        assert min(epochs + 1, 10) <= animation.n_frames <= epochs + 1
        first = np.asarray(animation.convert("RGB"))
        animation.seek(animation.n_frames - 1)
        assert np.abs(np.asarray(animation.convert("RGB")).astype(int) - first).mean() > 5  # it learned
    assert not (runs["xor_mlp"] / "probabilities.png").exists()


def test_event_files_hold_scalars_images_hparams_and_pr_curves(runs):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(runs["mnist_linear"]), size_guidance={"images": 0, "histograms": 0, "tensors": 0})
    events.Reload()
    tags = events.Tags()
    assert {"train/loss", "train/accuracy", "val/loss", "val/accuracy", "train/lr", "train/step_loss"} <= set(tags["scalars"])
    steps = (runs["mnist_linear"] / "steps.csv").read_text().splitlines()[1:]
    assert [e.value for e in events.Scalars("train/step_loss")] == pytest.approx([float(r.split(",")[2]) for r in steps])
    assert {tag.split("/")[0] for tag in tags["scalars"]} == {"train", "val"}  # the curves first, no one-dot cards
    assert "summary/text_summary" in tags["tensors"]  # the final test numbers, as a table
    assert {"reports/confusion_matrix", "reports/templates", "reports/curves"} <= set(tags["images"])
    assert {f"data/{digit}" for digit in "0123456789"} <= set(tags["images"])  # training images of each class
    assert {"weights/output.weight", "gradients/output.bias"} <= set(tags["histograms"])  # named, not "2.weight"
    assert {"_hparams_/experiment", "_hparams_/session_start_info"} <= set(events.PluginTagToContent("hparams"))
    assert "pr/3" in tags["tensors"]
    assert [e.value for e in events.Scalars("val/accuracy")] == pytest.approx(
        [float(line.split(",")[4]) for line in (runs["mnist_linear"] / "history.csv").read_text().splitlines()[1:]])
    boundary = EventAccumulator(str(runs["xor_mlp"]), size_guidance={"images": 0})
    boundary.Reload()
    assert [image.step for image in boundary.Images("decision_boundary/epoch")][:2] == [0, 1]  # 0: untrained
    assert len(boundary.Images("decision_boundary/epoch")) == 6


def test_tensorboard_server_lists_the_run_scalars(runs):
    logdir = runs["mnist_mlp"].parent
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1",
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline, tags = time.monotonic() + 60, None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/plugin/scalars/tags", timeout=5) as reply:
                    tags = json.load(reply)
                if runs["mnist_mlp"].name in tags:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        if server.poll() is not None and tags is None:
            pytest.skip(f"tensorboard could not start here: {server.stderr.read().decode()[-300:]}")
        assert tags is not None and "val/accuracy" in tags[runs["mnist_mlp"].name]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_compare_shows_each_runs_numbers(runs, tmp_path):
    md = tmp_path / "table.md"
    result = runner.invoke(app, ["compare", str(runs["mnist_mlp"]), str(runs["mnist_linear"]), "--md", str(md),
                                 "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    for name in ("mnist_mlp", "mnist_linear"):
        metrics = json.loads((runs[name] / "metrics.json").read_text())
        assert f"{metrics['test']['accuracy']:.4f}" in result.output
        assert f"{metrics['test']['accuracy']:.4f}" in md.read_text()
    (folder,) = (tmp_path / "runs").iterdir()
    assert png_size(folder / "compare.png")[0] > 300


def test_compare_configs_trains_only_what_is_missing():
    for expected_runs in (2, 2):
        result = runner.invoke(app, ["compare", "--configs", "xor_linear", "xor_mlp", "--runs-dir", "runs"])
        assert result.exit_code == 0, result.output
        assert len([p for p in Path("runs").iterdir() if not p.name.startswith("compare")]) == expected_runs
    assert "xor_linear" in result.output and "xor_mlp" in result.output


def test_compare_names_a_damaged_run(runs, tmp_path):
    import shutil

    damaged = tmp_path / "damaged"
    shutil.copytree(runs["xor_mlp"], damaged)
    (damaged / "history.csv").write_text("epoch,val/accuracy\n1,abc\n")
    result = runner.invoke(app, ["compare", str(runs["xor_mlp"]), str(damaged), "--runs-dir", str(tmp_path / "r")])
    assert result.exit_code == 2 and "damaged/history.csv: not a readable history" in result.output
    (damaged / "history.csv").write_text((runs["xor_mlp"] / "history.csv").read_text())
    (damaged / "metrics.json").write_text("{}")
    result = runner.invoke(app, ["compare", str(damaged), "--runs-dir", str(tmp_path / "r")])
    assert result.exit_code == 2 and "damaged/metrics.json: missing" in result.output


def test_hparams_keep_the_fields_that_tell_runs_apart():
    from nnintro.config import load_config
    from nnintro.reports.tensorboard import chosen_epochs, hparams_that_matter

    linear = hparams_that_matter(load_config("mnist_linear").model_dump(mode="json"))
    assert {"data.dataset", "model.kind", "optimizer.lr"} <= set(linear)
    assert not {"model.hidden", "model.activation", "train.eval_batch_size", "report.examples"} & set(linear)
    swept = hparams_that_matter(load_config(None, ["optimizer.momentum=0.5"]).model_dump(mode="json"))
    assert swept["optimizer.momentum"] == 0.5 and "model.hidden" in swept
    assert len(chosen_epochs(400)) <= 10 and {1, 2, 400} <= chosen_epochs(400)


def test_the_boundary_is_pictured_at_every_strip_epoch_and_for_the_animation(tmp_path):
    from nnintro.config import load_config
    from nnintro.reports.tensorboard import TensorBoardObserver
    from nnintro.training.trainer import prepare

    data, model = prepare(load_config("xor_mlp"))
    board = TensorBoardObserver(tmp_path, model, data, histograms=False, epochs=400)
    try:
        assert board.boundary_epochs <= board.animated_epochs | {0} and 0 in board.boundary_epochs
        assert len(board.animated_epochs) > 30 and [epoch for epoch, _ in board.boundary_frames] == [0]  # untrained
    finally:
        board.close()
