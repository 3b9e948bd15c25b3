"""Sweeps, the learning-rate finder, Playground features and the lecture's pictures."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from nnintro.cli import app
from nnintro.commands.sweep import parse_grid

runner = CliRunner()
SWEEP = ["sweep", "--grid", "optimizer.lr=0.01,0.001", "--grid", "model.hidden=[16],[32,32]", "--set",
         "train.epochs=3", "--set", "report.plots=false"]


def test_grid_values_are_yaml():
    assert parse_grid("optimizer.lr=0.1,0.01") == ("optimizer.lr", [0.1, 0.01])
    assert parse_grid("model.hidden=[128],[256,256]") == ("model.hidden", [[128], [256, 256]])


def test_sweep_ranks_four_points_packed_by_shape_and_a_restart_trains_nothing():
    result = runner.invoke(app, SWEEP)
    assert result.exit_code == 0, result.output
    folder = Path("runs/sweep-digits_mlp")
    rows = list(csv.DictReader((folder / "summary.csv").open()))
    assert [int(r["rank"]) for r in rows] == [1, 2, 3, 4]
    accuracies = [float(r["val_accuracy_mean"]) for r in rows]
    assert accuracies == sorted(accuracies, reverse=True)
    for row in rows:  # each point is a member of the pack holding its shape, with its own lr
        run, member = row["run_dirs"].split("#")
        record = json.loads((folder / run / "metrics.json").read_text())["members"][int(member)]
        assert float(row["val_accuracy_mean"]) == pytest.approx(record["val"]["accuracy"])
        assert float(row["test_accuracy_mean"]) == pytest.approx(record["test"]["accuracy"])
        assert row["setting"].startswith(f"optimizer.lr={record['optimizer.lr']} ")
    packs = {row["run_dirs"].split("#")[0] for row in rows}
    assert len(packs) == 2  # hidden [16] and [32, 32]: two shapes, two packs of two learning rates
    assert (folder / "summary.md").read_text().count("\n") == 6 and (folder / "summary.png").is_file()
    again = runner.invoke(app, SWEEP)
    assert again.exit_code == 0 and "0 trained, 2 already finished" in again.output
    assert len([p for p in folder.iterdir() if p.is_dir()]) == 2


def test_unpacked_sweep_trains_each_point_as_its_own_run():
    result = runner.invoke(app, [*SWEEP, "--no-pack"])
    assert result.exit_code == 0, result.output
    folder = Path("runs/sweep-digits_mlp")
    rows = list(csv.DictReader((folder / "summary.csv").open()))
    for row in rows:
        metrics = json.loads((folder / row["run_dirs"] / "metrics.json").read_text())
        assert float(row["val_accuracy_mean"]) == pytest.approx(metrics["val"]["accuracy"])
    assert {r["run_dirs"].rsplit("-", 2)[0] for r in rows} == {"lr-0.01_hidden-16", "lr-0.01_hidden-32-32",
                                                              "lr-0.001_hidden-16", "lr-0.001_hidden-32-32"}


def test_a_packed_sweep_with_a_diverging_lr_ranks_the_rest():
    result = runner.invoke(app, ["sweep", "--grid", "optimizer.lr=0.05,1e6", "--repeat", "2", "--set", "optimizer=sgd",
                                 "--set", "model.activation=identity", "--set", "train.epochs=2", "--set",
                                 "report.plots=false", "--name", "wild"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(Path("runs/wild/summary.csv").open()))
    assert [r["setting"] for r in rows] == ["optimizer.lr=0.05", "optimizer.lr=1e6 (diverged)"]
    assert rows[1]["diverged"] == "2" and float(rows[0]["val_accuracy_mean"]) > 0.5
    assert len(list(Path("runs/wild").iterdir())) > 0 and "diverged" in result.output


def test_sweep_repeats_give_mean_and_spread():
    result = runner.invoke(app, ["sweep", "--grid", "optimizer.lr=0.01", "--repeat", "2", "--set", "train.epochs=2",
                                 "--set", "report.plots=false", "--name", "twice"])
    assert result.exit_code == 0, result.output
    (row,) = list(csv.DictReader(Path("runs/twice/summary.csv").open()))
    assert row["runs"] == "2" and len(row["run_dirs"].split()) == 2 and row["seeds"] == "0 1"
    assert float(row["val_accuracy_std"]) > 0  # two seeds, two different models


def test_bad_grid_is_one_line():
    result = runner.invoke(app, ["sweep", "--grid", "model.hidden=[16],[-2]"])
    assert result.exit_code == 2 and "model.hidden[0]: must be > 0, got -2" in result.output
    assert not Path("runs").exists() or not any(Path("runs").rglob("model.json"))


def test_lr_find_suggests_an_lr_that_trains():
    result = runner.invoke(app, ["lr-find"])
    assert result.exit_code == 0, result.output
    suggested = float(result.output.split("suggested learning rate: ")[1].split()[0])
    assert 1e-5 < suggested < 1
    (folder,) = Path("runs").glob("lr_find-*")
    assert Image.open(folder / "lr_find.png").size[0] > 300
    trained = runner.invoke(app, ["train", "--set", f"optimizer.lr={suggested}", "--set", "train.epochs=5",
                                  "--set", "report.plots=false"])
    (run,) = Path("runs").glob("digits_mlp-*")
    assert json.loads((run / "metrics.json").read_text())["test"]["accuracy"] > 0.8, trained.output


def test_feature_crosses_let_a_linear_model_solve_circles():
    for name in ("circles_linear", "circles_crosses"):
        assert runner.invoke(app, ["train", "-c", name, "--set", "report.plots=false"]).exit_code == 0
    accuracy = {p.name.rsplit("-", 2)[0]: json.loads((p / "metrics.json").read_text())["test"]["accuracy"]
                for p in Path("runs").iterdir()}
    assert accuracy["circles_linear"] < 0.75 and accuracy["circles_crosses"] > 0.95
    run = next(Path("runs").glob("circles_crosses-*"))
    point = Path("point.npy")
    import numpy as np

    np.save(point, np.array([0.3, -0.2], dtype=np.float32))  # the centre of the rings: the positive class
    result = runner.invoke(app, ["predict", str(run), str(point), "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)[0]["prediction"] == "positive"


def test_l2_narrows_the_overfitting_gap():
    gaps = {}
    for name in ("overfit_mlp", "overfit_mlp_l2"):
        assert runner.invoke(app, ["train", "-c", name, "--set", "report.plots=false"]).exit_code == 0
        run = next(Path("runs").glob(f"{name}-2*"))
        rows = list(csv.DictReader((run / "history.csv").open()))
        gaps[name] = float(rows[-1]["val/loss"]) - float(rows[-1]["train/loss"])
    assert gaps["overfit_mlp_l2"] < gaps["overfit_mlp"] / 2


def test_unknown_feature_is_named():
    result = runner.invoke(app, ["train", "-c", "circles_linear", "--set", "data.features=[x1, x3]"])
    assert result.exit_code == 2 and "data.features[1]: unknown 'x3'" in result.output


@pytest.mark.parametrize("picture", ["activations", "optimizers"])
def test_lecture_pictures_never_replace_a_file(picture):
    Path(f"{picture}.png").write_text("mine")
    result = runner.invoke(app, ["plot", picture])
    assert result.exit_code == 0 and f"{picture}-2.png" in result.output
    assert Path(f"{picture}.png").read_text() == "mine" and Image.open(f"{picture}-2.png").size[0] > 300


def test_a_sweep_over_a_2d_set_draws_every_boundary_side_by_side():
    result = runner.invoke(app, ["sweep", "-c", "xor_mlp", "--grid", "model.hidden=[2],[8]", "--grid",
                                 "optimizer.weight_decay=0,0.1", "--set", "train.epochs=3", "--set",
                                 "report.plots=false", "--name", "knobs"])
    assert result.exit_code == 0, result.output
    picture = Image.open("runs/knobs/boundaries.png")
    assert picture.width > 1000  # four panels, one per grid point (two packs: one per width)


def test_another_sweep_under_a_used_name_is_refused_and_the_first_summary_kept():
    first = runner.invoke(app, ["sweep", "--grid", "optimizer.lr=0.01", "--set", "train.epochs=1", "--set",
                                "report.plots=false", "--name", "mine"])
    assert first.exit_code == 0, first.output
    summary = Path("runs/mine/summary.csv").read_text()
    other = runner.invoke(app, ["sweep", "--grid", "optimizer.lr=0.1", "--set", "train.epochs=1", "--set",
                                "report.plots=false", "--name", "mine"])
    assert other.exit_code == 2 and "holds another sweep" in other.output and "--name" in other.output
    assert Path("runs/mine/summary.csv").read_text() == summary
