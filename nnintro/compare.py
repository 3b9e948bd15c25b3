"""`nnintro compare`: runs side by side, best validation first (the course lab's question in one command)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnintro.config import Config, load_config
from nnintro.errors import RunError
from nnintro.models import describe
from nnintro.reports.tables import Column, TableSpec
from nnintro.runs import (
    METRICS_FILE,
    Run,
    create_run_dir,
    find_finished_run,
    open_run,
    read_history,
    read_json,
    write_atomic,
    write_csv,
)
from nnintro.tasks import Task


def best(values: list[float], higher_is_better: bool) -> float:
    return max(values) if higher_is_better else min(values)


@dataclass
class RunSummary:
    run: Run
    metrics: dict[str, Any]
    history: list[dict[str, float]]

    @property
    def row(self) -> dict[str, Any]:
        task, m = self.run.task, self.metrics
        metric = task.headline
        val_values = [r[f"val/{metric}"] for r in self.history if f"val/{metric}" in r]
        best_val = best(val_values, task.higher_is_better[metric]) if val_values else m["val"][metric]
        return {"run": self.run.path.name, "dataset": self.run.model_info.get("dataset", ""),
                "model": describe(self.run.architecture), "params": m["params"], "status": m["status"],
                "epochs": m["epochs_run"], "train_seconds": m["train_seconds"], f"best_val_{metric}": best_val,
                f"test_{metric}": m["test"][metric], "test_loss": m["test"]["loss"]}


def summarize(path: str | Path) -> RunSummary:
    run = open_run(path)
    summary = RunSummary(run, read_json(run.path / METRICS_FILE), read_history(run.path))
    try:
        _ = summary.row  # every number compare shows must be there
    except (KeyError, TypeError) as err:
        raise RunError(f"{run.path / METRICS_FILE}: missing {err} (an unfinished or damaged run?)") from err
    return summary


def runs_for_configs(specs: list[str], runs_root: Path, train: Callable[[Config], Path],
                     overrides: list[str] | None = None) -> list[Path]:
    """A finished run for every config (with the same --set overrides), training those that have none yet."""
    paths = []
    for spec in specs:
        config = load_config(spec, overrides or [])
        paths.append(find_finished_run(config.model_dump(mode="json"), runs_root) or train(config))
    return paths


def comparison_table(summaries: list[RunSummary]) -> TableSpec:
    """The runs ranked by their best validation number, in the direction their task counts as better."""
    tasks: list[Task] = [s.run.task for s in summaries]
    if len({t.name for t in tasks}) > 1:
        listed = ", ".join(f"{s.run.path.name} ({t.name})" for s, t in zip(summaries, tasks))
        raise RunError(f"compare: runs of different tasks cannot be ranked together: {listed}")
    metric = tasks[0].headline
    sign = -1 if tasks[0].higher_is_better[metric] else 1
    rows = sorted((s.row for s in summaries), key=lambda r: sign * r[f"best_val_{metric}"])
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return TableSpec("comparison, best validation first", [
        Column("rank", "rank"), Column("run", "run", left=True), Column("dataset", "dataset", left=True),
        Column("model", "model", left=True),
        Column("params", "params", "{:,}"), Column("epochs", "epochs"),
        Column("train_seconds", "train time (s)", "{:.1f}"),
        Column(f"best_val_{metric}", f"best val {metric}", "{:.4f}"),
        Column(f"test_{metric}", f"test {metric}", "{:.4f}"),
        Column("test_loss", "test loss", "{:.4f}")], rows)


def write_comparison(summaries: list[RunSummary], runs_root: Path, md_file: Path | None) -> tuple[Path, TableSpec]:
    """compare.md, compare.csv and compare.png in a new runs/compare-<time>/ folder (and the markdown at md_file)."""
    from nnintro.reports.plots import compare_figure, save_figure

    table = comparison_table(summaries)
    folder = create_run_dir(runs_root, "compare")
    markdown = table.to_markdown()
    write_atomic(folder / "compare.md", markdown)
    write_csv(folder / "compare.csv", table.csv_rows())
    if md_file is not None:
        write_atomic(md_file, markdown)
    metric = summaries[0].run.task.running_metric
    save_figure(compare_figure({s.run.path.name: s.history for s in summaries}, metric), folder / "compare.png")
    _write_probabilities(summaries, folder)
    return folder, table


def _write_probabilities(summaries: list[RunSummary], folder: Path, count: int = 6) -> None:
    """compare_probabilities.png: when the runs classify the same images, each model's probabilities on the same
    test images (a seeded mix over the classes)."""
    import torch

    from nnintro.checkpoint import load_model
    from nnintro.datasets import load_dataset
    from nnintro.reports.classification import spread_over_classes
    from nnintro.reports.plots import compare_probabilities_figure, save_figure
    from nnintro.runs import CONFIG_FILE

    runs = [s.run for s in summaries]
    first = runs[0]
    same = all(r.model_info.get("data_kind") == "image" and r.model_info.get("dataset") == first.model_info.get("dataset")
               and r.task.describe() == first.task.describe() and r.task.name == "classification" for r in runs)
    if not same:
        return
    config = load_config(str(first.path / CONFIG_FILE))
    test = load_dataset(config.data, config.seed).test
    chosen = spread_over_classes(test.y.numpy(), count)
    x = test.x[chosen]
    with torch.inference_mode():
        probabilities = {r.path.name: first.task.finish(load_model(r)(x)).numpy() for r in runs}
    save_figure(compare_probabilities_figure(x.numpy(), first.architecture["normalization"]["scale"], probabilities,
                                             first.task.classes, test.y[chosen].tolist(),
                                             [f"test #{i}" for i in chosen]), folder / "compare_probabilities.png")


def runs_table(runs_root: Path) -> TableSpec:
    """All runs under runs_root, newest first; an unfinished or damaged one is listed with what can be read."""
    from nnintro.runs import is_run

    folders = sorted((p for p in runs_root.glob("**/") if p != runs_root and is_run(p)),
                     key=lambda p: p.stat().st_mtime, reverse=True) if runs_root.is_dir() else []
    rows = []
    for folder in folders:
        try:
            summary = summarize(folder)
            metric = summary.run.task.headline
            row = summary.row
            rows.append({**row, "run": str(folder.relative_to(runs_root)), "metric": metric,
                         "best_val": row[f"best_val_{metric}"], "test": row[f"test_{metric}"]})
        except RunError as err:
            rows.append({"run": str(folder.relative_to(runs_root)), "status": f"unreadable: {str(err)[:60]}"})
    return TableSpec(f"{len(rows)} runs under {runs_root}/, newest first", [
        Column("run", "run", left=True), Column("dataset", "dataset", left=True), Column("model", "model", left=True),
        Column("status", "status", left=True), Column("metric", "metric", left=True),
        Column("best_val", "best val", "{:.4f}"), Column("test", "test", "{:.4f}"),
        Column("train_seconds", "train s", "{:.1f}")], rows)
