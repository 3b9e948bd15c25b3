"""Augmented training from the command line, the record configs, and time to accuracy."""
from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from nnintro.cli import app
from nnintro.config import load_config

runner = CliRunner()


def test_an_augmented_run_shows_what_the_network_sees():
    result = runner.invoke(app, ["train", "--set", "train.epochs=1", "--set", "data.augment={shift: 1, rotate: 10}"])
    assert result.exit_code == 0, result.output
    (run,) = Path("runs").iterdir()
    assert (run / "augmented_samples.png").stat().st_size > 10_000


def test_the_record_configs_are_valid_and_augment_only_training():
    for name, dataset in (("mnist_mlp_best", "mnist"), ("cifar_mlp_best", "cifar10")):
        config = load_config(name)
        assert config.data.dataset == dataset and config.data.augment.enabled and config.model.norm == "batch"
    assert load_config("cifar_mlp_best").data.augment.flip and not load_config("mnist_mlp_best").data.augment.flip


def test_bench_measures_the_time_to_a_test_accuracy(tmp_path):
    result = runner.invoke(app, ["bench", "--config", "digits_mlp", "--target", "0.8", "--set", "train.epochs=8",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (report_json,) = tmp_path.glob("time-to-0.8-digits_mlp-*.json")
    report = json.loads(report_json.read_text())
    assert report["reached"] and report["epochs"][-1]["test_accuracy"] >= 0.8
    assert report["epochs"][-1]["epoch"] == report["epoch"] and report["seconds"] > 0  # stopped once reached
    assert all(e["test_accuracy"] < 0.8 for e in report["epochs"][:-1])
    assert 0 <= report["waited_for_a_core"]["seconds"] <= report["waited_for_a_core"]["of_seconds"]
    assert "the machine: bench's thread waited" in result.output
    assert "The machine: bench's thread waited" in Path(str(report_json)[:-5] + ".md").read_text()
    never = runner.invoke(app, ["bench", "--config", "digits_mlp", "--target", "1.0", "--set", "train.epochs=1",
                                "--out", str(tmp_path)])
    assert never.exit_code == 0 and "not reached in 1 epochs" in never.output
    assert runner.invoke(app, ["bench", "--config", "digits_mlp"]).exit_code == 2
