"""A run killed in its first moments (SIGKILL: no cleanup runs) is recognisable, not a mystery folder."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from nnintro.cli import app

KILL_AT_FIRST_CHECKPOINT = """
import os, signal, sys
from nnintro.training import trainer
trainer.Trainer.save_start = lambda self: os.kill(os.getpid(), signal.SIGKILL)
from nnintro.cli import main
sys.argv = ["nnintro", "train", "--set", "train.epochs=2"]
main()
"""


def test_a_run_killed_before_its_first_checkpoint_is_listed_and_resume_says_to_start_again():
    killed = subprocess.run([sys.executable, "-c", KILL_AT_FIRST_CHECKPOINT], capture_output=True, text=True)
    assert killed.returncode != 0
    (folder,) = Path("runs").iterdir()
    assert (folder / "config.yaml").is_file() and not (folder / "checkpoint.safetensors").exists()
    listed = CliRunner().invoke(app, ["runs"])
    assert listed.exit_code == 0 and folder.name in listed.output and "never started" in listed.output
    resumed = CliRunner().invoke(app, ["train", "--resume", str(folder)])
    assert resumed.exit_code == 2 and "never started" in resumed.output and "--config" in resumed.output
    again = CliRunner().invoke(app, ["train", "--config", str(folder / "config.yaml")])
    assert again.exit_code == 0, again.output


def test_an_edited_model_json_is_refused_before_a_resume_trains(tmp_path):
    import json

    runner = CliRunner()
    assert runner.invoke(app, ["train", "--set", "train.epochs=2"]).exit_code == 0
    (run,) = Path("runs").iterdir()
    info = json.loads((run / "model.json").read_text())
    info["architecture"]["hidden"] = [7]
    (run / "model.json").write_text(json.dumps(info))
    before = (run / "checkpoint.safetensors").read_bytes()
    resumed = runner.invoke(app, ["train", "--resume", str(run), "--set", "train.epochs=3"])
    assert resumed.exit_code == 2 and "model.json" in resumed.output and "architecture" in resumed.output
    assert (run / "checkpoint.safetensors").read_bytes() == before
