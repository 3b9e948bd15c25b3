"""`nnintro bench` runs every loop it compares (nnintro's, the course's DataLoader loop, Lightning when
installed) from the same weights, and writes the table it prints as markdown and strict JSON."""
from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from nnintro.cli import app


def test_bench_times_each_loop_and_writes_its_reports(tmp_path):
    result = CliRunner().invoke(app, ["bench", "--epochs", "1", "--batch-size", "2048", "--hidden", "8",
                                      "--workers", "0", "--baseline-steps", "2", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (report_json,) = tmp_path.glob("bench-mnist-b2048-*.json")
    report = json.loads(report_json.read_text())
    loops = {loop["loop"]: loop for loop in report["loops"]}
    assert set(loops) >= {"nnintro", "course loop (DataLoader, 0 workers)"}
    assert loops["nnintro"]["ratio_to_nnintro"] == 1.0 and report["model"] == "784-8-10"
    for loop in loops.values():
        assert loop["seconds_per_epoch"] > 0 and 0 <= loop["test_accuracy"] <= 1
    markdown = Path(str(report_json)[:-5] + ".md").read_text()
    assert "| arithmetic lower bound |" in markdown and "| course loop (DataLoader, 0 workers) |" in markdown
