"""The real `nnintro` commands on tiny data: files, exit codes and printed lines a user relies on."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from nnintro.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def only_run(runs: Path = Path("runs")) -> Path:
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    return run


@pytest.fixture(scope="module")
def trained_mnist_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small MNIST run with every report, trained once for the tests below (each gets its own copy)."""
    from conftest import make_idx_dataset

    folder = tmp_path_factory.mktemp("mnist_run")
    make_idx_dataset(folder / "data")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.setenv("NNINTRO_CACHE_DIR", str(folder / "cache"))
        result = invoke("train", "-c", "mnist_mlp", "--set", f"data.root={folder / 'data'}", "--set",
                        "train.epochs=3", "--set", "model.hidden=[32]", "--set", "data.val_size=100")
        assert result.exit_code == 0, result.output
        return folder / only_run()


@pytest.fixture
def mnist_run(trained_mnist_run: Path) -> Path:
    """The trained run copied into this test's runs/, which it may change."""
    return Path(shutil.copytree(trained_mnist_run, Path("runs") / trained_mnist_run.name))


def test_train_writes_a_complete_run(mnist_run: Path):
    for name in ("config.yaml", "model.json", "model.safetensors", "history.csv", "metrics.json", "checkpoint.safetensors"):
        assert (mnist_run / name).is_file(), name
    assert any(p.name.startswith("events.out.tfevents") for p in mnist_run.iterdir())
    assert mnist_run.name.startswith("mnist_mlp-")
    metrics = json.loads((mnist_run / "metrics.json").read_text())
    for key in ("best_epoch", "epochs_run", "stopped_early", "train_seconds", "params", "samples_per_second"):
        assert key in metrics
    assert metrics["test"]["accuracy"] > 0.9 and metrics["epochs_run"] == 3 and metrics["params"] == 784 * 32 + 32 + 330
    rows = list(csv.DictReader((mnist_run / "history.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert {"train/loss", "train/accuracy", "val/loss", "val/accuracy", "lr", "epoch_seconds"} <= set(rows[0])
    info = json.loads((mnist_run / "model.json").read_text())
    assert info["architecture"]["input_shape"] == [1, 28, 28] and info["classes"][3] == "3"


def test_eval_reproduces_metrics_json(mnist_run: Path):
    metrics = json.loads((mnist_run / "metrics.json").read_text())
    for split in ("test", "val"):
        result = invoke("eval", str(mnist_run), "--split", split)
        assert result.exit_code == 0, result.output
        evaluated = json.loads((mnist_run / "eval" / split / "metrics.json").read_text())
        assert evaluated["accuracy"] == metrics[split]["accuracy"]
        assert evaluated["loss"] == pytest.approx(metrics[split]["loss"], rel=1e-6)
        assert "precision" in result.output and "recall" in result.output


def test_eval_defaults_to_the_newest_run(mnist_run: Path):
    result = invoke("eval")
    assert result.exit_code == 0 and str(mnist_run) in result.output


def test_predict_images_arrays_and_bad_files(mnist_run: Path, tmp_path: Path):
    from conftest import learnable_images

    images, labels = learnable_images(2, (28, 28), seed=5)
    Image.fromarray(images[0]).resize((280, 280)).convert("RGB").save(tmp_path / "big.jpg")
    np.save(tmp_path / "digit.npy", images[1])
    (tmp_path / "notes.png").write_text("not an image")
    result = invoke("predict", str(mnist_run), str(tmp_path / "big.jpg"), str(tmp_path / "digit.npy"),
                    str(tmp_path / "notes.png"), str(tmp_path / "missing.png"), "--top-k", "3", "--json",
                    "--plot", str(tmp_path / "mine.png"))
    assert result.exit_code == 2
    out = json.loads(result.stdout)
    assert [item["file"] for item in out] == [str(tmp_path / n) for n in ("big.jpg", "digit.npy", "notes.png", "missing.png")]
    assert out[0]["prediction"] == str(labels[0]) and out[1]["prediction"] == str(labels[1])
    assert len(out[0]["top_k"]) == 3 and out[0]["top_k"][0] == [out[0]["prediction"], out[0]["probability"]]
    assert "not a readable image" in out[2]["error"] and "no such file" in out[3]["error"]
    assert Image.open(tmp_path / "mine.png").size[0] > 300


def test_print_config_shows_the_resolved_config():
    result = invoke("train", "--config", "mnist_mlp", "--print-config", "--set", "optimizer.lr=0.05")
    assert result.exit_code == 0
    assert "lr: 0.05" in result.output and "dataset: mnist" in result.output
    assert not Path("runs").exists()


@pytest.mark.parametrize("args, expected", [
    (("train", "--set", "model.hidden=[64,-3]"), "model.hidden[1]: must be > 0, got -3"),
    (("train", "--config", "nope.yaml"), "config file 'nope.yaml' not found"),
    (("train", "--set", "data.dataset=mnist", "--set", "data.root=nowhere", "--set", "data.download=false"),
     "MNIST files not found in nowhere/MNIST/raw/"),
    (("train", "--set", "data.dataset=mnist", "--set", "data.root=nowhere"),
     "downloading MNIST into nowhere failed (no network in the tests); check the connection"),
    (("eval", "not-a-run"), "not-a-run: no such run folder"),
    (("eval",), "no runs found under runs/"),
    (("predict", ".", "x.png"), ".: not a run folder"),
])
def test_bad_input_is_one_line_and_exit_2(args, expected):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_tampered_weights_are_named(mnist_run: Path):
    weights = mnist_run / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])
    result = invoke("eval", str(mnist_run))
    assert result.exit_code == 2 and "model.safetensors: not a valid safetensors file" in result.output


def test_runs_are_never_reused():
    for _ in range(3):
        assert invoke("train", "--set", "train.epochs=1", "--set", "name=same", "--set", "report.plots=false").exit_code == 0
    assert len(list(Path("runs").iterdir())) == 3


def test_xor_needs_a_hidden_layer():
    for name in ("xor_linear", "xor_mlp"):
        assert invoke("train", "-c", name).exit_code == 0
    accuracy = {p.name.split("-")[0]: json.loads((p / "metrics.json").read_text())["test"]["accuracy"]
                for p in Path("runs").iterdir()}
    assert accuracy["xor_mlp"] >= 0.95 and accuracy["xor_linear"] <= 0.65


def test_offline_default_reaches_95_percent():
    result = invoke("train")
    assert result.exit_code == 0, result.output
    assert json.loads((only_run() / "metrics.json").read_text())["test"]["accuracy"] >= 0.95
