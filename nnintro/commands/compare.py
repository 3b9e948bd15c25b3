"""`nnintro compare`: runs side by side, best validation first (the course lab's question in one command)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnintro.commands.train import train
from nnintro.config import load_config
from nnintro.errors import RunError
from nnintro.files import read_json, write_atomic, write_csv
from nnintro.models.layers import describe
from nnintro.reports.stats import difference, spread
from nnintro.reports.tables import Column, TableSpec
from nnintro.run_folder.layout import FINISHED, METRICS_FILE, create_run_dir, find_finished_run, read_history
from nnintro.run_folder.run import Run, open_run
from nnintro.tasks import Task


def best(values: list[float], higher_is_better: bool) -> float:
    return max(values) if higher_is_better else min(values)


@dataclass
class RunSummary:
    run: Run
    metrics: dict[str, Any]
    history: list[dict[str, float]]

    @property
    def unfinished(self) -> str | None:
        """Why this run's numbers are not a trained model's result (None: it finished training)."""
        status, epochs = self.metrics["status"], self.metrics["epochs_run"]
        if epochs == 0:
            return f"never trained ({status} before its first epoch ended)"
        if status not in FINISHED:
            return f"{status} after {epochs} epoch{'s' if epochs > 1 else ''}"
        return None

    @property
    def members(self) -> list[dict[str, Any]]:
        """A pack's members that did not diverge ([] for a single model)."""
        return [m for m in self.metrics.get("members", []) if m["status"] != "diverged"]

    def member_values(self, split: str) -> dict[int, float]:
        """seed -> the headline metric of the member trained with it."""
        metric = self.run.task.headline
        return {m["seed"]: m[split][metric] for m in self.members}

    @property
    def row(self) -> dict[str, Any]:
        task, m = self.run.task, self.metrics
        metric = task.headline
        row = {"run": self.run.path.name, "dataset": self.run.model_info.get("dataset", ""),
               "model": describe(self.run.architecture), "params": m["params"], "status": m["status"],
               "epochs": m["epochs_run"], "train_seconds": m["train_seconds"], "test_loss": m["test"]["loss"]}
        if self.members:  # members' mean (ranked by) and spread; the ensemble beside them
            for split in ("val", "test"):
                numbers = spread(list(self.member_values(split).values()))
                row[f"{split}_{metric}_text"] = f"{numbers['mean']:.4f} ± {numbers['std']:.4f}"
            return {**row, "members": len(self.members), f"best_val_{metric}": m["summary"]["val"][metric]["mean"],
                    f"test_{metric}": m["summary"]["test"][metric]["mean"], f"ensemble_test_{metric}": m["test"][metric]}
        val_values = [r[f"val/{metric}"] for r in self.history if f"val/{metric}" in r]
        best_val = best(val_values, task.higher_is_better[metric]) if val_values else m["val"][metric]
        return {**row, "members": 1, f"best_val_{metric}": best_val, f"test_{metric}": m["test"][metric],
                f"val_{metric}_text": f"{best_val:.4f}", f"test_{metric}_text": f"{m['test'][metric]:.4f}"}


def summarize(path: str | Path) -> RunSummary:
    run = open_run(path)
    summary = RunSummary(run, read_json(run.path / METRICS_FILE), read_history(run.path))
    try:
        _ = summary.row  # every number compare shows must be there
    except (KeyError, TypeError) as err:
        raise RunError(f"{run.path / METRICS_FILE}: missing {err} (an unfinished or damaged run?)") from err
    return summary


def runs_for_configs(specs: list[str], runs_root: Path, console: Any,
                     overrides: list[str] | None = None, repeat: int = 1) -> list[Path]:
    """A finished run for every config (with the same --set overrides), training those that have none yet.
    repeat > 1: each config as a pack of that many members (seeds seed, seed+1, ...), trained in one pass."""
    paths = []
    configs = [load_config(spec, [*(overrides or []), *([f"train.members={repeat}"] if repeat > 1 else [])])
               for spec in specs]  # every config is checked before anything trains
    for config in configs:
        paths.append(find_finished_run(config.model_dump(mode="json"), runs_root) or train(config, runs_root, console).run_dir)
    return paths


def comparison_table(summaries: list[RunSummary], unfinished: bool = False) -> TableSpec:
    """The finished runs ranked by their best validation number, in the direction their task counts as better.
    Runs that were interrupted, diverged or never trained are refused, or with `unfinished` listed after the
    ranking, marked and unranked: their numbers are not a trained model's."""
    tasks: list[Task] = [s.run.task for s in summaries]
    if len({t.name for t in tasks}) > 1:
        listed = ", ".join(f"{s.run.path.name} ({t.name})" for s, t in zip(summaries, tasks))
        raise RunError(f"compare: runs of different tasks cannot be ranked together: {listed}")
    left_out = [s for s in summaries if s.unfinished]
    if left_out and not unfinished:
        first = left_out[0]
        more = f" (and {len(left_out) - 1} more)" if len(left_out) > 1 else ""
        raise RunError(f"compare: {first.run.path} was {first.unfinished}{more}, so its numbers are not a trained "
                       f"model's; finish it with nnintro train --resume {first.run.path}, or add --unfinished to "
                       f"list it unranked")
    metric = tasks[0].headline
    sign = -1 if tasks[0].higher_is_better[metric] else 1
    ranked = sorted((s for s in summaries if not s.unfinished), key=lambda s: sign * s.row[f"best_val_{metric}"])
    rows = [{**s.row, "rank": rank} for rank, s in enumerate(ranked, 1)]
    rows += [{**s.row, "rank": "-", "status": f"{s.unfinished}: not ranked"} for s in left_out]
    packed = any(row["members"] > 1 for row in rows)
    spread_of = " (members' mean ± std)" if packed else ""
    columns = [Column("rank", "rank"), Column("run", "run", left=True), Column("dataset", "dataset", left=True),
               Column("model", "model", left=True), Column("params", "params", "{:,}"), Column("epochs", "epochs"),
               Column("train_seconds", "train time (s)", "{:.1f}"),
               Column(f"val_{metric}_text", f"{'' if packed else 'best '}val {metric}{spread_of}"),
               Column(f"test_{metric}_text", f"test {metric}{spread_of}")]
    if packed:
        columns += [Column("members", "members"), Column(f"ensemble_test_{metric}", f"ensemble test {metric}", "{:.4f}")]
    columns.append(Column("test_loss", "test loss", "{:.4f}"))
    if left_out:
        columns.append(Column("status", "status", left=True))
    notes = [differs(ranked[0], other, tasks[0]) for other in ranked[1:] if ranked[0].members and other.members]
    notes += reference_notes(ranked, metric)
    return TableSpec("comparison, best validation first", columns, rows, notes=notes)


def reference_notes(summaries: list[RunSummary], metric: str) -> list[str]:
    """The table runs' reference models, once per distinct set of test rows (runs of one file share them)."""
    notes, seen = [], set()
    for summary in summaries:
        baselines = summary.metrics.get("baselines")
        if not baselines:
            continue
        listed = ", ".join(f"{name.replace('_', ' ')} {result['test'][metric]:.4f}" for name, result in baselines.items())
        if listed not in seen:
            seen.add(listed)
            notes.append(f"references on {summary.run.path.name}'s test rows, test {metric}: {listed}")
    return notes


def differs(better: RunSummary, other: RunSummary, task: Task) -> str:
    """One sentence a student can read: how far the first row is ahead of another on the test split, with the
    95% confidence interval over seeds (paired seed by seed when both were trained on the same seeds)."""
    metric = task.headline
    mine, theirs = better.member_values("test"), other.member_values("test")
    paired = sorted(mine) == sorted(theirs) and len(mine) > 1
    seeds = sorted(mine)
    a, b = ([mine[s] for s in seeds], [theirs[s] for s in seeds]) if paired else (list(mine.values()), list(theirs.values()))
    if not task.higher_is_better[metric]:  # "ahead" means lower error
        a, b = [-v for v in a], [-v for v in b]
    result = difference(a, b, paired)
    scale, unit = (100, " points") if metric == "accuracy" else (1, f" {metric}")
    interval = (f" (95% CI {result.low * scale:.1f} to {result.high * scale:.1f})" if result.low == result.low
                else " (no interval from a single seed)")
    verb = "beats" if result.mean > 0 else "does not beat"
    if paired:
        where = "on every seed" if result.wins == result.count else f"on {result.wins} of {result.count} seeds"
    else:
        where = f"over {len(a)} and {len(b)} seeds (not the same seeds: unpaired)"
    return (f"{better.run.path.name} {verb} {other.run.path.name} by {result.mean * scale:.{1 if scale == 100 else 3}f}"
            f" ± {result.std * scale:.{1 if scale == 100 else 3}f}{unit}{interval} {where}")


def write_comparison(summaries: list[RunSummary], runs_root: Path, md_file: Path | None, unfinished: bool = False,
                     first_images: int | None = None) -> tuple[Path, TableSpec]:
    """compare.md, compare.csv and compare.png in a new runs/compare-<time>/ folder (and the markdown at md_file);
    compare_probabilities.png from the finished runs only."""
    from nnintro.reports.plots import compare_figure, save_figure

    table = comparison_table(summaries, unfinished)
    folder = create_run_dir(runs_root, "compare")
    markdown = table.to_markdown()
    write_atomic(folder / "compare.md", markdown)
    write_csv(folder / "compare.csv", table.csv_rows())
    if md_file is not None:
        write_atomic(md_file, markdown)
    metric = summaries[0].run.task.running_metric
    save_figure(compare_figure({s.run.path.name: s.history for s in summaries}, metric), folder / "compare.png")
    finished = [s for s in summaries if not s.unfinished]
    if finished:
        _write_probabilities(finished, folder, first_images)
    return folder, table


def _write_probabilities(summaries: list[RunSummary], folder: Path, first_images: int | None) -> None:
    """compare_probabilities.png: when the runs classify the same images, each model's probabilities on the same
    test images: the first `first_images` of the test split (as the course lab shows them), or six spread over
    the classes."""
    import torch

    from nnintro.datasets import load_dataset
    from nnintro.reports.classification import spread_over_classes
    from nnintro.reports.plots import compare_probabilities_figure, save_figure
    from nnintro.run_folder.checkpoint import load_model
    from nnintro.run_folder.layout import CONFIG_FILE

    runs = [s.run for s in summaries]
    first = runs[0]
    same = all(r.model_info.get("data_kind") == "image" and r.model_info.get("dataset") == first.model_info.get("dataset")
               and r.task.describe() == first.task.describe() and r.task.name == "classification" for r in runs)
    if not same:
        return
    config = load_config(str(first.path / CONFIG_FILE))
    test = load_dataset(config.data, config.seed).test
    chosen = list(range(min(first_images, len(test)))) if first_images else spread_over_classes(test.y.numpy(), 6)
    x = test.x[chosen]
    with torch.inference_mode():
        probabilities = {r.path.name: first.task.finish(load_model(r)(x)).numpy() for r in runs}
    save_figure(compare_probabilities_figure(x.numpy(), first.architecture["normalization"]["scale"], probabilities,
                                             first.task.classes, test.y[chosen].tolist(),
                                             [f"test #{i}" for i in chosen]), folder / "compare_probabilities.png")


def runs_table(runs_root: Path) -> TableSpec:
    """All runs under runs_root, newest first; an unfinished or damaged one is listed with what can be read."""
    from nnintro.run_folder.layout import CONFIG_FILE, is_run, never_started

    folders = sorted((p for p in runs_root.glob("**/") if p != runs_root and (is_run(p) or never_started(p))),
                     key=lambda p: p.stat().st_mtime, reverse=True) if runs_root.is_dir() else []
    rows = []
    for folder in folders:
        if never_started(folder):
            rows.append({"run": str(folder.relative_to(runs_root)),
                         "status": f"never started: train again with --config {folder / CONFIG_FILE}"})
            continue
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
