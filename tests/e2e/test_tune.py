"""nnintro tune on the bundled digits, seconds each: a seeded study repeats, pruning stops a
clearly worse trial, packed trials equal the same trials trained one at a time, --resume adds trials, storages."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nnintro.cli import app

optuna = pytest.importorskip("optuna")

from nnintro.commands.tune import StudyRecord, load_study, open_storage, tune, work  # noqa: E402

runner = CliRunner()
QUICK = ["train.epochs=4", "report.plots=false", "model.hidden=[16]"]


def run_tune(study: str, space: list[str], trials: int, pack: int = 1, pruner: str = "none", **settings):
    options = dict(spec="digits_mlp", overrides=QUICK, space=space, trials=trials, study_name=study, storage_url=None,
                   resume=False, sampler=None, pruner=pruner, workers=1, pack=pack, confirm_count=0, seeds=2,
                   runs_root=Path("runs"), grace=120, say=lambda line: None)
    return tune(**{**options, **settings})


def trials_of(study: str) -> list:
    storage, _ = open_storage(None, Path("runs") / study, 120)
    return optuna.load_study(study_name=study, storage=storage).get_trials()


def test_a_seeded_study_gives_the_same_trials_twice():
    space = ["optimizer.lr=log(1e-3,1e-1)", "model.hidden=choice([8],[16])"]
    run_tune("first", space, 5)
    run_tune("second", space, 5)
    first, second = trials_of("first"), trials_of("second")
    assert [t.params for t in first] == [t.params for t in second] and len(first) == 5
    assert [t.value for t in first] == [t.value for t in second]


def test_packed_trials_equal_the_same_trials_one_at_a_time():
    space = ["optimizer.lr=log(1e-3,1e-1)", "optimizer.momentum=uniform(0,0.9)"]
    run_tune("packed", space, 4, pack=4, sampler="random")
    run_tune("alone", space, 4, pack=1, sampler="random")
    packed, alone = trials_of("packed"), trials_of("alone")
    assert [t.params for t in packed] == [t.params for t in alone]
    assert {t.user_attrs["run"].split("#")[0] for t in packed} == {packed[0].user_attrs["run"].split("#")[0]}
    assert len({t.user_attrs["run"] for t in alone}) == 4  # one run folder each
    assert [t.value for t in packed] == pytest.approx([t.value for t in alone], abs=1e-9)


def test_pruning_stops_a_clearly_worse_trial_and_keeps_its_run():
    record = StudyRecord("digits_mlp", [*QUICK, "train.epochs=8"], {"optimizer.lr": "log(1e-7, 1e-1)"}, "accuracy",
                         "maximize", "", "tpe", "median", 0)
    storage, _ = open_storage(None, Path("runs/pruned"), 120)
    study, record = load_study("pruned", storage, record, resume=False)
    for lr in (0.01, 0.02, 0.03, 0.015, 0.025, 1e-7):  # five good trials first: the median pruner's start-up
        study.enqueue_trial({"optimizer.lr": lr})
    work(study, record, 6, 1, Path("runs/pruned"), lambda line: None)
    trials = study.get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE"] * 5 + ["PRUNED"]
    run = Path("runs/pruned") / trials[-1].user_attrs["run"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "pruned" and "median pruner" in metrics["message"]
    assert metrics["epochs_run"] == 5 and (run / "history.csv").is_file()


def test_resume_adds_trials_and_redoes_none(tmp_path):
    run_tune("grow", ["optimizer.lr=log(1e-3,1e-1)"], 3)
    before = trials_of("grow")
    folders = set(Path("runs/grow").iterdir())
    result = runner.invoke(app, ["tune", "--study", "grow", "--resume", "--trials", "2", "--confirm", "0"])
    assert result.exit_code == 0, result.output
    after = trials_of("grow")
    assert len(after) == 5 and [(t.params, t.value) for t in after[:3]] == [(t.params, t.value) for t in before]
    assert folders <= set(Path("runs/grow").iterdir())
    assert len({t.user_attrs["run"] for t in after}) == 5  # each trial trained once (the two new ones as a pack)


def test_a_refused_command_leaves_the_study_as_it_was():
    run_tune("kept", ["optimizer.lr=log(1e-3,1e-1)"], 2)
    before = [(t.params, t.value) for t in trials_of("kept")]
    changed = runner.invoke(app, ["tune", "--config", "digits_mlp", "--study", "kept", "--trials", "3",
                                  *sum((["--set", o] for o in QUICK), []), "--space", "optimizer.lr=log(1e-4,1e-1)"])
    assert changed.exit_code == 2 and "exists with another space" in changed.output and "--resume" in changed.output
    missing = runner.invoke(app, ["tune", "--study", "nope", "--resume"])
    assert missing.exit_code == 2 and "no study named 'nope'" in missing.output
    assert [(t.params, t.value) for t in trials_of("kept")] == before


def test_storage_urls(tmp_path):
    from nnintro.errors import InputError

    with pytest.raises(InputError, match=r"--storage postgresql://me:\*\*\*@127.0.0.1:9/tune: ") as caught:
        open_storage("postgresql://me:secret@127.0.0.1:9/tune", tmp_path, 120)
    assert "secret" not in str(caught.value)
    with pytest.raises(InputError, match=r"--storage nosuch://x: cannot open the study storage"):
        open_storage("nosuch://x", tmp_path, 120)
    storage, url = open_storage(str(tmp_path / "shared" / "study.journal"), tmp_path, 120)
    assert type(storage).__name__ == "JournalStorage" and url.endswith("study.journal")
    result = run_tune("journal", ["optimizer.lr=log(1e-3,1e-1)"], 2, storage_url=str(tmp_path / "j" / "s.journal"))
    assert result.trials == 2 and (tmp_path / "j" / "s.journal").stat().st_size > 0
    _, default = open_storage(None, tmp_path / "study", 120)
    assert default == f"sqlite:///{(tmp_path / 'study' / 'study.db').resolve()}"


def test_the_answer_is_confirmed_on_fresh_seeds_beside_the_default():
    result = run_tune("answer", ["optimizer.lr=log(1e-3,1e-1)"], 3, confirm_count=1, seeds=3)
    labels = {row.label for row in result.rows}
    assert "default" in labels and len(result.rows) == 2
    assert all(len(row.test) == 3 for row in result.rows)
    summary = (result.folder / "summary.md").read_text()
    assert "nnintro train --config digits_mlp" in summary and "95% CI" in summary
    assert (result.folder / "summary.csv").read_text().count("\n") == 4
    assert "optimization_history.png" in result.pictures


def test_a_study_refuses_data_that_changed_under_it(tmp_path):
    from tests.conftest import write_table

    table = write_table(tmp_path / "houses.csv")
    settings = ["--config", "tabular_mlp", "--set", f"data.path={table}", "--set", "data.target=price", "--set",
                "data.ignore=[name]", "--set", "data.missing=impute", "--set", "train.epochs=3", "--set",
                "report.plots=false", "--space", "optimizer.lr=log(1e-3,1e-1)", "--study", "houses", "--confirm", "0"]
    first = runner.invoke(app, ["tune", *settings, "--trials", "1"])
    assert first.exit_code == 0, first.output
    write_table(table, rows=210, seed=1)  # the file changes
    again = runner.invoke(app, ["tune", *settings, "--trials", "2"])
    assert again.exit_code == 2 and "exists with another data" in again.output
    resumed = runner.invoke(app, ["tune", "--study", "houses", "--resume", "--trials", "1", "--confirm", "0"])
    assert resumed.exit_code == 2 and "the data of study 'houses' changed" in resumed.output
    assert len(trials_of("houses")) == 1
