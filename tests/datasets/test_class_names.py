"""data.class_names: the lab's names for the dataset's classes, everywhere a class is named."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from nnintro.cli import app
from nnintro.config import load_config
from nnintro.datasets import load_dataset

runner = CliRunner()
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def test_the_names_replace_the_datasets_own_in_the_run_and_its_predictions(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["train", "-c", "digits_linear", "--set", f"data.class_names=[{','.join(WORDS)}]",
                                 "--set", "train.epochs=1"])
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs").iterdir()
    assert json.loads((run / "model.json").read_text())["classes"] == WORDS
    assert (run / "confusion_matrix.csv").read_text().splitlines()[0].split(",")[1:] == WORDS


@pytest.mark.parametrize("names, message", [
    ("[a,b]", "10 classes (0, 1, 2, 3, 4, 5, 6, 7, 8, 9) need 10 names in that order, got 2"),
    ("[a,a,b,c,d,e,f,g,h,i]", "every class needs its own non-empty name"),
])
def test_a_wrong_list_is_refused_before_any_run_folder(tmp_path, monkeypatch, names, message):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["train", "-c", "digits_linear", "--set", f"data.class_names={names}"])
    assert result.exit_code == 2 and message in result.output and not (tmp_path / "runs").exists()


def test_numbers_are_names_as_yaml_writes_them():
    assert load_config("digits_linear", ["data.class_names=[0, 1.5, two]"]).data.class_names == ["0", "1.5", "two"]


def test_a_regression_has_no_classes_to_name():
    config = load_config("diabetes_linear", ["data.class_names=[a,b]"])
    with pytest.raises(Exception, match="names classes; a regression task has none"):
        load_dataset(config.data, 0)


def test_the_labs_configs_carry_the_labs_names():
    for name in ("cifar_lab_mlp", "cifar_lab_linear"):
        assert load_config(name).data.class_names[:2] == ["plane", "car"]
