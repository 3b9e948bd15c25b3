"""The course's own settings: the lab's fixed normalization, bias-free layers, its configs, and a look at the data."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from nnintro.cli import app
from nnintro.config import load_config
from nnintro.training.trainer import prepare

runner = CliRunner()


def test_fixed_and_no_normalization_and_bias_free_layers():
    data, model = prepare(load_config(None, ["data.normalize=fixed", "model.bias=false", "model.hidden=[16]"]))
    assert data.normalization["mean"] == [0.5] and data.normalization["std"] == [0.5]
    assert all(m.bias is None for m in model if isinstance(m, torch.nn.Linear))
    x = torch.full((1, 1, 8, 8), 16.0)  # digits' brightest value: scaled to 1, then (1 - 0.5) / 0.5
    assert torch.allclose(model[0](x), torch.ones(1, 1, 8, 8))
    plain, _ = prepare(load_config(None, ["data.normalize=none"]))
    assert plain.normalization["mean"] == [0.0] and plain.normalization["std"] == [1.0]
    with pytest.raises(Exception, match="data.mean/data.std: cifar10 has 3 channels"):
        from conftest import make_cifar

        from nnintro.datasets import load_dataset

        make_cifar(Path("data"))
        load_dataset(load_config(None, ["data.dataset=cifar10", "data.normalize=fixed", "data.mean=[0.5,0.5]",
                                        "data.download=false"]).data, 0)


@pytest.mark.parametrize("name", ["cifar_lab_mlp", "cifar_lab_linear", "mnist_lecture_mlp", "mnist_lecture_deep",
                                  "mnist_logreg"])
def test_the_course_configs_hold_the_course_settings(name):
    config = load_config(name)
    if name.startswith("cifar_lab"):
        assert (config.data.batch_size, config.optimizer.lr, config.optimizer.momentum, config.train.epochs) == \
            (4, 0.001, 0.9, 10) and config.data.normalize == "fixed" and config.data.std == [0.5]


def test_show_draws_the_training_data(tmp_path):
    result = runner.invoke(app, ["show", "--out", str(tmp_path / "digits.png")])
    assert result.exit_code == 0 and "10 classes" in result.output and "1293 train / 144 val / 360 test" in result.output
    assert (tmp_path / "digits.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "digits.untrained_softmax.png").read_bytes().startswith(b"\x89PNG")
    assert runner.invoke(app, ["show", "--out", str(tmp_path / "digits.png")]).exit_code == 2  # never replaced
    (tmp_path / "digits.png").unlink()  # the untrained picture beside it is not replaced either
    refused = runner.invoke(app, ["show", "--out", str(tmp_path / "digits.png")])
    assert refused.exit_code == 2 and "digits.untrained_softmax.png: already exists" in refused.output
    points = runner.invoke(app, ["show", "-c", "xor_mlp", "--out", str(tmp_path / "xor.png")])
    assert points.exit_code == 0 and (tmp_path / "xor.png").is_file()
    table = runner.invoke(app, ["show", "-c", "diabetes_mlp"])
    assert table.exit_code == 0 and "regression on target" in table.output and "column bmi" in table.output
    from conftest import write_table

    write_table(Path("houses.csv"), rows=60)
    table = runner.invoke(app, ["show", "-c", "tabular_mlp", "--set", "data.path=houses.csv", "--set",
                                "data.target=price", "--set", "data.ignore=[name]", "--set", "data.missing=drop"])
    assert table.exit_code == 0, table.output
    assert "the first 5 training rows" in table.output and "┃ area  ┃ rooms ┃ city ┃ price ┃" in table.output
    assert "column city  │ text, 3 categories, most common" in table.output and "column area  │ number, " in table.output


def test_the_untrained_models_softmax_knows_nothing_yet():
    """The heat map's numbers: before training every image gets every class with a probability near 1/10."""
    from nnintro.models.layers import user_model

    data, model = prepare(load_config("digits_mlp"))
    with torch.inference_mode():
        probabilities = data.task.finish(user_model(model, data.task.combine).eval()(data.test.x[:12]))
    assert torch.allclose(probabilities.sum(1), torch.ones(12)) and 0.03 < probabilities.min() < probabilities.max() < 0.3


def test_lecture_plots_take_their_knobs(tmp_path):
    softmax = runner.invoke(app, ["plot", "softmax", "--logits", "2,1,0.1", "--out", str(tmp_path / "s.png")])
    assert softmax.exit_code == 0 and (tmp_path / "s.png").read_bytes().startswith(b"\x89PNG")
    saddle = runner.invoke(app, ["plot", "optimizers", "--lr", "0.1", "--steps", "100", "--start", "0.8,0.05",
                                 "--out", str(tmp_path / "o.png")])
    assert saddle.exit_code == 0 and (tmp_path / "o.png").is_file()
    assert runner.invoke(app, ["plot", "softmax", "--logits", "two,one"]).exit_code == 2
    assert runner.invoke(app, ["plot", "optimizers", "--start", "5,5"]).exit_code == 2
    assert runner.invoke(app, ["plot", "optimizers", "--function", "cubic"]).exit_code == 2
    from nnintro.commands.plot import optimizer_paths

    paths = optimizer_paths(steps=100, lr=0.1, start=(0.8, 0.05))
    assert all(path[0].tolist() == pytest.approx([0.8, 0.05]) for path in paths.values())
    assert len(paths["gradient descent (SGD)"]) <= 101
    # plain gradient descent on the bowl x² + 10y²: each step multiplies x by (1 - 2 lr) and y by (1 - 20 lr)
    (descent,) = optimizer_paths(steps=3, lr=0.01, start=(1.0, 1.0), function="bowl", optimizers=["sgd"]).values()
    assert descent[-1].tolist() == pytest.approx([0.98**3, 0.8**3])


def test_the_optimizer_demo_starts_at_random_and_animates(tmp_path):
    result = runner.invoke(app, ["plot", "optimizers", "--start", "random", "--seed", "3", "--steps", "5",
                                 "--optimizer", "sgd", "--optimizer", "adam", "--animate", "--out", str(tmp_path / "o.png")])
    assert result.exit_code == 0 and (tmp_path / "o.png").is_file() and "o.gif" in result.output
    with Image.open(tmp_path / "o.gif") as animation:
        assert animation.n_frames == 6  # the start, then one frame per step
    Path("optimizers.gif").write_text("mine")  # a default name never replaces the user's file, nor its .gif
    assert "optimizers-2.gif" in runner.invoke(app, ["plot", "optimizers", "--steps", "2", "--animate"]).output
    assert Path("optimizers.gif").read_text() == "mine"
    again = runner.invoke(app, ["plot", "optimizers", "--steps", "2", "--animate", "--out", str(tmp_path / "o.png"),
                                 "--force"])
    assert again.exit_code == 0


def test_layers_are_summarized_and_dead_units_found():
    from nnintro.reports.layers import activation_health, health_warnings, layer_table

    data, model = prepare(load_config(None, ["model.hidden=[16,8]"]))
    table = layer_table(model, data.input_shape)
    assert [r["layer"] for r in table.rows] == ["standardize", "flatten", "hidden1", "relu1", "hidden2", "relu2",
                                               "output", "total"]
    assert table.rows[-1]["params"] == sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        model[2].bias.fill_(-1e6)  # every unit of the first hidden layer now outputs 0: dead
    report = activation_health(model, data.val, 4096)
    assert report[0] == {"layer": "relu1", "units": 16, "dead": 1.0}
    assert report[1]["layer"] == "relu2"
    (warning,) = health_warnings(report)[:1]
    assert warning.startswith("relu1: 100% of its 16 units are dead")
    shown = runner.invoke(app, ["show", "--out", "x.png"])
    assert "hidden1" in shown.output and "parameters" in shown.output


def test_compare_shows_every_models_probabilities_on_the_same_images():
    for config in ("digits_linear", "digits_mlp"):
        assert runner.invoke(app, ["train", "-c", config, "--set", "train.epochs=2", "--set",
                                   "report.plots=false"]).exit_code == 0
    result = runner.invoke(app, ["compare", *map(str, Path("runs").iterdir())])
    assert result.exit_code == 0, result.output
    (folder,) = Path("runs").glob("compare-*")
    assert (folder / "compare_probabilities.png").read_bytes().startswith(b"\x89PNG")


def test_a_path_that_escapes_the_saddle_stays_in_the_frame_for_every_step():
    import numpy as np

    from nnintro.commands.plot import FUNCTIONS, _surface, optimizer_paths, random_start

    paths = optimizer_paths(steps=30, lr=0.05, start=random_start(3), optimizers=["sgd"])
    (path,) = paths.values()
    assert len(path) == 31  # it leaves the first square in a few steps, and is followed for all 30
    gx, gy, _ = _surface(FUNCTIONS["saddle"][1], paths)
    assert gx.max() >= np.abs(path[:, 0]).max() and gy.max() >= np.abs(path[:, 1]).max()
