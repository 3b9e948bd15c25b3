"""The end of a training run as a person reads it: the summary table (test and val numbers, the members' or
folds' spread, the reference models), the most-confused pairs, the warnings, and what to do next. The CLI and the
notebook print the same."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from nnintro.reports.tables import TableSpec, key_values


def _number(value: Any) -> str:
    return "n/a" if value is None else f"{value:.5g}" if isinstance(value, float) else str(value)


def _reference_lines(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """A table run's reference models, on the same test rows, in the metrics shown above them."""
    rows = []
    for name, result in metrics.get("baselines", {}).items():
        numbers = "  ".join(f"{metric} {_number(value)}" for metric, value in result["test"].items() if metric != "loss")
        rows.append((f"reference: {name.replace('_', ' ')}", f"test {numbers}"))
    return rows


def _member_lines(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """A pack's summary rows: each test metric's mean +/- std (min .. max) over its members."""
    if not metrics.get("members"):
        return []
    alive = sum(m["status"] != "diverged" for m in metrics["members"])
    who = "folds" if metrics.get("folds") else "members"
    above = ("out of fold (each row predicted by the member that never trained on it)" if metrics.get("folds")
             else "their ensemble's")
    lines = [(who, f"{len(metrics['members'])} ({alive} did not diverge); the test numbers above are {above}")]
    for name, spread in metrics["summary"].get("test", {}).items():
        lines.append((f"{who}' test {name}", f"{spread['mean']:.4f} ± {spread['std']:.4f} "
                                             f"({spread['min']:.4f} .. {spread['max']:.4f})"))
    return lines


def summary_tables(metrics: dict[str, Any], run_dir: Path) -> list[TableSpec]:
    m = metrics
    tables = [key_values(f"{run_dir}  ({m['status']})", [
        *((f"test {name}", _number(value)) for name, value in m["test"].items()),
        *((f"val {name}", _number(value)) for name, value in m["val"].items() if name != "loss"),
        *(("learned function" + (" (the members' mean)" if m.get("members") else ""), spec["formula"])
          for spec in m.get("linear_function", {}).values() if "formula" in spec),
        *((("true function", f"{m['true_function']} (before the noise)"),) if "true_function" in m else ()),
        *_member_lines(m),
        *_reference_lines(m),
        ("best epoch", f"{m['best_epoch']} of {m['epochs_run']}"),
        ("train time", f"{m['train_seconds']:.1f}s ({m['samples_per_second'] or 0:,} samples/s)"),
        ("parameters", f"{m['params']:,}"),
    ])]
    if m.get("most_confused"):
        from nnintro.reports.classification import most_confused_table

        tables.append(most_confused_table(m["most_confused"]))
    return tables


def print_summary(metrics: dict[str, Any], run_dir: Path, console: Console, err_console: Console,
                  next_steps: str | None = None) -> bool:
    """Print the run's summary; False when it diverged (the CLI exits 3 then). next_steps: what to suggest
    doing next (default: the commands)."""
    for table in summary_tables(metrics, run_dir):
        console.print(table.to_rich())
    for hint in [*metrics.get("warnings", []), *filter(None, [metrics.get("timing_warning")])]:
        err_console.print(f"warning: {hint}", highlight=False, markup=False)
    if metrics["status"] in ("completed", "stopped_early"):
        if metrics["message"]:
            console.print(metrics["message"], highlight=False)
        console.print(next_steps or f"next: nnintro eval {run_dir}  |  tensorboard --logdir {run_dir.parent}  |  "
                                    f"pictures: {run_dir}/*.png", highlight=False, markup=False)
    if metrics["status"] == "diverged":
        err_console.print(f"error: training diverged: {metrics['message']}; best weights so far kept in {run_dir}",
                          highlight=False)
        return False
    return True
