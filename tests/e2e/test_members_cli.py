"""Members from the command line: train --members, eval/predict --member, resume, compare --repeat, bad input."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from nnintro.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def newest_run() -> Path:
    return max((p for p in Path("runs").iterdir() if p.is_dir() and not p.name.startswith("compare")),
               key=lambda p: p.stat().st_mtime)


def test_members_train_at_once_and_their_ensemble_is_the_default():
    result = invoke("train", "--members", "3", "--set", "train.epochs=4", "--set", "report.plots=false")
    assert result.exit_code == 0, result.output
    assert "members' test accuracy" in result.output
    run = newest_run()
    metrics = json.loads((run / "metrics.json").read_text())
    members = metrics["members"]
    assert [m["seed"] for m in members] == [0, 1, 2]
    assert len({m["val"]["loss"] for m in members}) == 3  # three different models
    mean = np.mean([m["test"]["accuracy"] for m in members])
    assert metrics["summary"]["test"]["accuracy"]["mean"] == mean
    assert metrics["ensemble"]["test"] == metrics["test"] and metrics["test"]["accuracy"] >= mean
    assert "member2/val/loss" in (run / "history.csv").read_text().splitlines()[0]
    one = invoke("eval", str(run), "--member", "1", "--json")
    assert json.loads(one.output)["accuracy"] == members[1]["test"]["accuracy"]
    both = invoke("eval", str(run), "--json")
    assert json.loads(both.output)["accuracy"] == metrics["test"]["accuracy"]
    wrong = invoke("eval", str(run), "--member", "3")
    assert wrong.exit_code == 2 and "--member 3: this run has 3 members (valid: 0 to 2)" in wrong.output


def test_a_resumed_pack_continues_every_member_and_keeps_its_member_count():
    assert invoke("train", "--members", "2", "--set", "train.epochs=2", "--set", "report.plots=false").exit_code == 0
    run = newest_run()
    resumed = invoke("train", "--resume", str(run), "--set", "train.epochs=3")
    assert resumed.exit_code == 0, resumed.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs_run"] == 3 and len(metrics["members"]) == 2
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["train"]["members"] = 3
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    refused = invoke("train", "--resume", str(run), "--set", "train.epochs=4")
    assert refused.exit_code == 2 and "disagree on train.members" in refused.output
    assert invoke("train", "--resume", str(run), "--members", "3").exit_code == 2


def test_runs_saved_before_packs_still_load():
    assert invoke("train", "--set", "train.epochs=1", "--set", "report.plots=false").exit_code == 0
    run = newest_run()
    expected = json.loads(invoke("eval", str(run), "--json").output)
    # the weights as 0.2.0 wrote them: torch.nn.Linear shapes (out, in), no member dimension, none in model.json
    tensors = {k: (v.squeeze(0) if k.split(".")[0] in ("2", "4") else v)  # the two linear layers
               for k, v in load_file(run / "model.safetensors").items()}
    save_file(tensors, run / "model.safetensors")
    info = json.loads((run / "model.json").read_text())
    del info["architecture"]["members"]
    (run / "model.json").write_text(json.dumps(info))
    assert load_file(run / "model.safetensors")["2.weight"].dim() == 2
    assert json.loads(invoke("eval", str(run), "--json").output) == expected


def test_compare_repeat_gives_mean_std_and_a_confidence_interval():
    result = invoke("compare", "--configs", "digits_mlp", "digits_linear", "--repeat", "3", "--set", "train.epochs=3",
                    "--set", "report.plots=false")
    assert result.exit_code == 0, result.output
    assert "±" in result.output and "95% CI" in result.output and "on every seed" in result.output
    markdown = next(Path("runs").glob("compare-*/compare.md")).read_text()
    assert "beats" in markdown and "members' mean ± std" in markdown


def test_bad_member_counts_are_one_line():
    zero = invoke("train", "--members", "0")
    assert zero.exit_code == 2 and "train.members: must be >= 1, got 0" in zero.output
    huge = invoke("train", "--members", "1000", "--set", "model.hidden=[1000000]")
    assert huge.exit_code == 2 and "train.members:" in huge.output and "GiB" in huge.output and "fewer members" in huge.output
    assert not Path("runs").exists() or not any(Path("runs").iterdir())
    predict = invoke("predict", "nowhere", "x.png", "--member", "-1")
    assert predict.exit_code == 2
