"""No command damages what the user had: output options never replace files unasked, a failed command leaves
the run as it was, one writer per run, and every run can be resumed, even one stopped in its first epoch."""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from nnintro.cli import app
from nnintro.files import dumps_json
from nnintro.run_folder.layout import locked_run

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def run() -> Path:
    assert invoke("train", "--set", "train.epochs=2", "--set", "report.plots=false").exit_code == 0
    (path,) = Path("runs").iterdir()
    return path


def test_predict_plot_never_replaces_the_runs_weights(run, tmp_path):
    from PIL import Image

    image = tmp_path / "seven.png"
    Image.new("L", (8, 8), 200).save(image)
    before = snapshot(run)
    result = invoke("predict", str(run), str(image), "--plot", str(run / "model.safetensors"))
    assert result.exit_code == 2 and "already exists" in result.output and "--force" in result.output
    assert snapshot(run) == before
    assert invoke("eval", str(run)).exit_code == 0
    plot = tmp_path / "mine.png"
    plot.write_text("the user's file")
    assert invoke("predict", str(run), str(image), "--plot", str(plot)).exit_code == 2
    assert plot.read_text() == "the user's file"
    assert invoke("predict", str(run), str(image), "--plot", str(plot), "--force").exit_code == 0
    assert plot.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("args", [
    ["plot", "activations", "--out", "nodir/x.png"],
    ["compare", "RUN", "--md", "nodir/x.md"],
    ["predict", "RUN", "IMAGE", "--plot", "nodir/x.png"],
    ["bench", "--out", "a-file"],
])
def test_output_paths_that_cannot_be_written_get_one_line(run, tmp_path, args):
    from PIL import Image

    Image.new("L", (8, 8)).save(tmp_path / "i.png")
    Path("a-file").write_text("in the way")
    args = [{"RUN": str(run), "IMAGE": str(tmp_path / "i.png")}.get(a, a) for a in args]
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_existing_output_files_are_kept_unless_forced(run):
    Path("table.md").write_text("mine")
    assert invoke("compare", str(run), "--md", "table.md").exit_code == 2
    assert Path("table.md").read_text() == "mine"
    Path("act.png").write_text("mine")
    assert invoke("plot", "activations", "--out", "act.png").exit_code == 2
    assert invoke("plot", "activations", "--out", "act.png", "--force").exit_code == 0
    assert Path("act.png").read_bytes().startswith(b"\x89PNG")


def test_run_files_follow_the_users_umask(run):
    old = os.umask(0o022)
    try:
        assert invoke("train", "--set", "train.epochs=1", "--set", "name=shared").exit_code == 0
    finally:
        os.umask(old)
    (shared,) = Path("runs").glob("shared-*")
    for name in ("metrics.json", "model.safetensors", "config.yaml", "history.csv", "curves.png"):
        assert stat.S_IMODE((shared / name).stat().st_mode) == 0o644, name


def test_a_second_writer_of_the_same_run_is_refused(run):
    before = snapshot(run)
    with locked_run(run):
        result = invoke("train", "--resume", str(run), "--set", "train.epochs=3")
    assert result.exit_code == 2 and "another nnintro process is writing this run" in result.output
    assert snapshot(run) == before


def test_resume_after_config_yaml_was_edited_applies_or_refuses(run):
    config = run / "config.yaml"
    edited = yaml.safe_load(config.read_text())
    edited["model"]["hidden"] = [7]
    config.write_text(yaml.safe_dump(edited))
    before = snapshot(run)
    refused = invoke("train", "--resume", str(run))
    assert refused.exit_code == 2 and "disagree on model.hidden" in refused.output
    assert snapshot(run) == before  # a failed command leaves the run exactly as it was
    edited["model"]["hidden"] = [128]
    edited["train"]["epochs"] = 3
    config.write_text(yaml.safe_dump(edited))
    assert invoke("train", "--resume", str(run)).exit_code == 0
    assert json.loads((run / "metrics.json").read_text())["epochs_run"] == 3


def test_leftover_temporary_files_are_cleaned_on_the_next_write(run):
    (run / ".metrics.json.abc123.tmp").write_text("half written by a killed process")
    assert invoke("train", "--resume", str(run), "--set", "train.epochs=3").exit_code == 0
    assert not list(run.glob(".*.tmp"))


def test_ctrl_c_in_the_first_epoch_can_be_resumed():
    process = subprocess.Popen([sys.executable, "-m", "nnintro", "train", "--set", "data.batch_size=1",
                                "--set", "train.epochs=1", "--set", "report.plots=false"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(Path("runs").glob("*/checkpoint.safetensors")) and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    (run,) = Path("runs").iterdir()
    assert json.loads((run / "metrics.json").read_text())["epochs_run"] == 0
    resumed = invoke("train", "--resume", str(run))
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((run / "metrics.json").read_text())["status"] == "completed"


def test_sweep_trains_the_seeds_it_reports():
    result = invoke("sweep", "--grid", "seed=1,2", "--set", "train.epochs=1", "--set", "report.plots=false")
    assert result.exit_code == 0, result.output
    (config,) = [yaml.safe_load(p.read_text()) for p in Path("runs").glob("sweep-*/*/config.yaml")]  # one pack
    assert config["train"]["vary"]["seed"] == [1, 2]
    (metrics,) = [json.loads(p.read_text()) for p in Path("runs").glob("sweep-*/*/metrics.json")]
    assert [member["seed"] for member in metrics["members"]] == [1, 2]


def test_json_output_is_strict():
    text = dumps_json({"loss": float("nan"), "values": [float("inf"), 1.5]})
    assert json.loads(text) == {"loss": None, "values": [None, 1.5]}
    assert "NaN" not in text and "Infinity" not in text


def test_eval_data_root_is_a_path_not_yaml(tmp_path):
    from conftest import make_idx_dataset

    root = tmp_path / "data #2"
    make_idx_dataset(root, n_train=200, n_test=50)
    assert invoke("train", "-c", "mnist_linear", "--set", f"data.root='{root}'", "--set", "train.epochs=1",
                  "--set", "report.plots=false").exit_code == 0
    (run,) = Path("runs").iterdir()
    (root / "MNIST").rename(tmp_path / "moved")
    moved = tmp_path / "other #3"
    moved.mkdir()
    (tmp_path / "moved").rename(moved / "MNIST")
    result = invoke("eval", str(run), "--data-root", str(moved))
    assert result.exit_code == 0, result.output
    wrong = invoke("eval", str(run), "--data-root", "nowhere #4")
    assert wrong.exit_code == 2 and wrong.output.startswith("error: --data-root nowhere #4: ")


def test_predict_plot_on_a_run_without_images_is_refused_before_any_work(tmp_path):
    assert invoke("train", "-c", "xor_mlp", "--set", "train.epochs=1", "--set", "report.plots=false").exit_code == 0
    (run,) = Path("runs").glob("xor_mlp-*")
    import numpy as np

    np.save(tmp_path / "point.npy", np.array([1.0, -1.0], dtype=np.float32))
    result = invoke("predict", str(run), str(tmp_path / "point.npy"), "--plot", str(tmp_path / "p.png"))
    assert result.exit_code == 2 and "does not take images" in result.output and not (tmp_path / "p.png").exists()


def test_a_resume_with_nothing_left_to_do_says_so_and_leaves_the_run(run):
    before = snapshot(run)
    result = invoke("train", "--resume", str(run))
    assert result.exit_code == 0 and "nothing left to do: it completed 2 epochs" in result.output
    assert "--set train.epochs=12" in result.output and snapshot(run) == before
