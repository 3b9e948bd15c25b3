"""The from-scratch lecture's regression sets: a linear model's function read in the data's units, and the
function drawn before and after training."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from nnintro.cli import app
from nnintro.config import validate
from nnintro.datasets.surfaces import SURFACES, surface_frame
from nnintro.models.layers import user_model
from nnintro.reports.learned_function import learned_numbers, linear_function
from nnintro.training.trainer import prepare

runner = CliRunner()


def test_the_generated_sets_follow_their_formulas_and_the_seed():
    frame = surface_frame("plane", 200, 0.0, seed=3)
    assert np.allclose(frame["y"], 4 * frame["x1"] - frame["x2"] + 0.5)
    assert frame.equals(surface_frame("plane", 200, 0.0, seed=3)) and not frame.equals(surface_frame("plane", 200, 0.0, 4))
    noisy = surface_frame("bowl", 2000, 0.5, seed=3)
    residual = noisy["y"] - SURFACES["bowl"].function(noisy["x1"], noisy["x2"])
    assert residual.std() == pytest.approx(0.5, rel=0.1) and noisy[["x1", "x2"]].abs().max().max() <= 3


def test_a_linear_models_function_is_read_exactly_through_its_standardizing_layers():
    """Untrained, with the inputs and the target standardized inside the model: the formula read off it predicts
    every row the model does."""
    data, model = prepare(validate({"data": {"dataset": "plane", "noise": 0.3}, "model": {"kind": "linear"}}))
    view = user_model(model, data.task.combine)
    function = linear_function(view, data)["y"]
    x = data.test.x.double()
    by_formula = x[:, 0] * function["weights"]["x1"] + x[:, 1] * function["weights"]["x2"] + function["intercept"]
    with torch.no_grad():
        assert torch.allclose(view(data.test.x)[:, 0].double(), by_formula, atol=1e-4)
    assert learned_numbers(view, data, {"kind": "mlp"}) == {"true_function": "y = 4·x1 - x2 + 0.5"}  # no formula
    digits, digits_model = prepare(validate({"model": {"kind": "linear"}}))  # images, classes: nothing to read
    assert learned_numbers(user_model(digits_model, digits.task.combine), digits, {"kind": "linear"}) == {}


def test_a_linear_model_learns_the_planes_formula_and_both_surfaces_are_drawn(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["train", "-c", "plane_linear", "--set", "data.noise=0", "--set",
                                 "train.epochs=60", "--set", "train.early_stopping.patience=60"])
    assert result.exit_code == 0, result.output
    assert "true function" in result.output and "y = 4·x1 - x2 + 0.5 (before the noise)" in result.output
    (run,) = (tmp_path / "runs").iterdir()
    learned = json.loads((run / "metrics.json").read_text())["linear_function"]["y"]
    assert learned["weights"]["x1"] == pytest.approx(4, abs=0.02)
    assert learned["weights"]["x2"] == pytest.approx(-1, abs=0.02)
    assert learned["intercept"] == pytest.approx(0.5, abs=0.02)
    assert learned["formula"] in result.output  # the summary's "learned function" row
    assert (run / "surface.png").stat().st_size > 10_000


def test_only_two_numeric_columns_make_a_surface(tmp_path):
    from nnintro.reports.learned_function import draws_surface

    plane, _ = prepare(validate({"data": {"dataset": "plane"}, "model": {"kind": "linear"}}))
    assert draws_surface(plane)
    rows = "\n".join(f"{'ab'[i % 2]},{i * 0.5 + i % 3}" for i in range(60))
    (tmp_path / "t.csv").write_text(f"colour,y\n{rows}\n")
    table, _ = prepare(validate({"data": {"dataset": "csv", "path": str(tmp_path / "t.csv"), "target": "y"}}))
    assert len(table.train.x[0]) == 2 and not draws_surface(table)  # colour's two one-hot inputs
    digits, _ = prepare(validate({}))
    assert not draws_surface(digits)


def test_show_draws_two_numeric_inputs_in_3d_before_training(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["show", "-c", "bowl_mlp"])
    assert result.exit_code == 0, result.output
    assert "wrote bowl_samples.png" in result.output and (tmp_path / "bowl_samples.png").stat().st_size > 10_000
    assert "regression on y" in result.output  # the table's own summary is printed as before
