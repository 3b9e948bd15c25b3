"""`nnintro bench` runs every loop it compares (nnintro's, the course's DataLoader loop, Lightning when
installed) from the same weights, taking turns epoch by epoch, and writes the table it prints as markdown and
strict JSON."""
from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from nnintro.cli import app


def test_bench_times_each_loop_and_writes_its_reports(tmp_path):
    from conftest import make_idx_dataset

    make_idx_dataset(tmp_path / "data")  # real MNIST files (IDX, gzip), small
    result = CliRunner().invoke(app, ["bench", "--data-root", str(tmp_path / "data"), "--epochs", "2", "--batch-size",
                                      "64", "--hidden", "8", "--workers", "0", "--baseline-steps", "2", "--members", "4",
                                      "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (report_json,) = tmp_path.glob("bench-mnist-b64-*.json")
    report = json.loads(report_json.read_text())
    assert report["data"].startswith("real mnist files")
    loops = {loop["loop"]: loop for loop in report["loops"]}
    assert set(loops) >= {"nnintro", "nnintro, 4 members packed", "course loop (DataLoader, 0 workers)"}
    assert loops["nnintro"]["ratio_to_nnintro"] == 1.0 and report["model"] == "784-8-10"
    pack = loops["nnintro, 4 members packed"]  # model-samples: four models' worth per epoch, bound x 4
    assert pack["samples_per_second"] == 4 * 600 / pack["seconds_per_epoch"]
    assert pack["ratio_to_bound"] == pack["seconds_per_epoch"] / (4 * report["bound_seconds_per_epoch"])
    for loop in loops.values():
        assert loop["seconds_per_epoch"] > 0 and 0 <= loop["test_accuracy"] <= 1
        turns = loop["epoch_seconds"]
        assert len(turns) == 2 and min(turns) <= loop["seconds_per_epoch"] <= max(turns)
    first, second = report["turns"]  # the loops take turns, one epoch each a round, the first moving along
    assert sorted(first) == sorted(second) == sorted(loops) and second == first[1:] + first[:1]
    assert len(report["gemm_gflops_before_each_round"]) == 2
    markdown = Path(str(report_json)[:-5] + ".md").read_text()
    assert "| arithmetic lower bound |" in markdown and "| course loop (DataLoader, 0 workers) |" in markdown
    assert report["device"] == "cpu" and "torch " in markdown and ", cpu, " in markdown
    waited = report["waited_for_a_core"]  # Linux says how long the thread waited for a core
    assert 0 <= waited["seconds"] <= waited["of_seconds"] and waited["of_seconds"] > 0
    assert "the machine: bench's thread waited" in result.output and "The machine: bench's thread waited" in markdown


def test_a_device_this_machine_lacks_is_refused_in_one_line(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for args in (["--device", "cuda"], ["--device", "cuda:1", "--target", "0.9"]):
        result = CliRunner().invoke(app, ["bench", *args, "--out", str(tmp_path / "out")])
        assert result.exit_code == 2, result.output
        assert "'cuda" in result.output and "no CUDA GPU is visible" in result.output
    assert "bench --device:" in CliRunner().invoke(app, ["bench", "--device", "cuda", "--out", str(tmp_path)]).output
