"""`nnintro compare`: runs side by side (the course lab's question in one command)."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from nnintro.config import Config, load_config
from nnintro.errors import RunError
from nnintro.models import describe
from nnintro.runs import (HISTORY_FILE, METRICS_FILE, Run, create_run_dir, find_finished_run, open_run, read_json,
                          write_atomic)


@dataclass
class RunSummary:
    run: Run
    metrics: dict[str, Any]
    history: list[dict[str, float]]

    @property
    def row(self) -> dict[str, Any]:
        m = self.metrics
        best_val = max((r["val/accuracy"] for r in self.history), default=m["val"]["accuracy"])
        return {"run": self.run.path.name, "model": describe(self.run.architecture), "params": m["params"],
                "epochs": m["epochs_run"], "train_seconds": m["train_seconds"], "best_val_accuracy": best_val,
                "test_accuracy": m["test"]["accuracy"], "test_loss": m["test"]["loss"]}


def summarize(path: str | Path) -> RunSummary:
    run = open_run(path)
    try:
        with (run.path / HISTORY_FILE).open(newline="") as handle:
            history = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]
    except (OSError, ValueError, TypeError) as err:
        raise RunError(f"{run.path / HISTORY_FILE}: not a readable history ({err})") from err
    summary = RunSummary(run, read_json(run.path / METRICS_FILE), history)
    try:
        summary.row  # every number compare shows must be there
    except (KeyError, TypeError) as err:
        raise RunError(f"{run.path / METRICS_FILE}: missing {err} (an unfinished or damaged run?)") from err
    return summary


def runs_for_configs(specs: list[str], runs_root: Path, train: Callable[[Config], Path]) -> list[Path]:
    """A finished run for every config, training those that have none yet."""
    paths = []
    for spec in specs:
        config = load_config(spec)
        paths.append(find_finished_run(config.model_dump(mode="json"), runs_root) or train(config))
    return paths


def to_markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| run | model | params | epochs | train time (s) | best val acc | test acc | test loss |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['run']} | {r['model']} | {r['params']:,} | {r['epochs']} | {r['train_seconds']:.1f} | "
                     f"{r['best_val_accuracy']:.4f} | {r['test_accuracy']:.4f} | {r['test_loss']:.4f} |")
    return "\n".join(lines) + "\n"


def write_comparison(summaries: list[RunSummary], runs_root: Path, md_file: Path | None) -> Path:
    """compare.md and compare.png in a new runs/compare-<time>/ folder (and the markdown at md_file)."""
    from nnintro.reports.plots import compare_figure, save_figure

    folder = create_run_dir(runs_root, "compare")
    markdown = to_markdown([s.row for s in summaries])
    write_atomic(folder / "compare.md", markdown)
    if md_file is not None:
        write_atomic(md_file, markdown)
    save_figure(compare_figure({s.run.path.name: s.history for s in summaries}), folder / "compare.png")
    return folder



