"""nnintro tune's search space refused before anything trains: one line naming the field and what is wrong."""
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from nnintro.cli import app

pytest.importorskip("optuna")

runner = CliRunner()


@pytest.mark.parametrize(("space", "words"), [
    ("optimizer.lr=log(0,1)", "a log range must start above 0"),
    ("optimizer.lr=uniform(1,0)", "low (1) must be below high (0)"),
    ("optimizer.lrr=log(1e-4,1e-1)", "no such config field; did you mean 'optimizer.lr'"),
    ("seed=int(0,9)", "cannot be searched"),
    ("data.path=choice(a.csv,b.csv)", "cannot be searched"),
    ("optimizer.lr=gauss(1,2)", "unknown kind 'gauss'"),
    ("optimizer.lr=log(a,b)", "log takes two finite numbers"),
    ("model.hidden=choice(abc,[64])", "the value \"abc\" is refused"),
    ("model.dropout=uniform(0,2)", "the value 2 is refused"),
    ("optimizer.lr", "expected FIELD=KIND(...)"),
    ("optimizer.lr=log(1e-4,1e-1) --set data.folds=5", "data.folds: tune judges every trial on one validation split"),
    ("optimizer.lr=log(1e-4,1e-1) --set train.members=3", "train.members / train.vary: tune trains each trial"),
])
def test_a_malformed_space_is_one_line_and_exit_2(space, words):
    space, *sets = space.split(" ")
    result = runner.invoke(app, ["tune", "--config", "digits_mlp", "--space", space, "--trials", "1", *sets])
    assert result.exit_code == 2, result.output
    assert words in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert not Path("runs").exists() or not any(Path("runs").rglob("*.safetensors"))


def test_the_config_tune_section_is_checked_the_same_way_and_kept_out_of_run_configs(tmp_path):
    config = tmp_path / "searched.yaml"
    config.write_text("data: {dataset: digits}\ntune:\n  space: {optimizer.lr: 'log(0, 1)'}\n  trials: 3\n")
    result = runner.invoke(app, ["tune", "--config", str(config)])
    assert result.exit_code == 2 and "--space 'optimizer.lr=log(0, 1)': a log range must start above 0" in result.output
    from nnintro.config import load_config

    assert "tune" not in load_config(str(config)).model_dump(mode="json")  # what runs write as config.yaml


def test_without_the_tune_extra_the_command_says_how_to_install_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "optuna", None)  # as where the tune extra is not installed
    result = runner.invoke(app, ["tune", "--space", "optimizer.lr=log(1e-4,1e-1)"])
    assert result.exit_code == 2 and "pip install 'nnintro[tune]'" in result.output and "Traceback" not in result.output


def test_two_workers_racing_for_the_last_trial_train_it_once() -> None:
    """Both saw room for one more trial and both asked: the one asked first keeps it, the other is given back
    untrained and counts for nothing."""
    import optuna

    from nnintro.commands.tune import _counts, _within_budget

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    for value in (0.1, 0.2, 0.3):
        study.tell(study.ask(), value)
    first, second = study.ask(), study.ask()  # two workers, one trial of the budget of 4 left
    assert _within_budget(study, [second], 4) == [] and _within_budget(study, [first], 4) == [first]
    assert _counts(study) == (3, 1)
    assert study.trials[second.number].user_attrs == {"surplus": True}
    assert study.trials[second.number].state == optuna.trial.TrialState.FAIL
