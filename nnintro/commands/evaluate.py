"""`nnintro eval`: a run's best weights (its members' ensemble, one member, or out of fold) scored again on a split
of its own dataset, with the task's tables and pictures."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nnintro.config import load_config
from nnintro.datasets import DatasetBundle, load_dataset
from nnintro.errors import DataError, RunError
from nnintro.files import output_folder, write_json
from nnintro.reports.tables import TableSpec
from nnintro.run_folder.checkpoint import load_model
from nnintro.run_folder.layout import CONFIG_FILE, METRICS_FILE, MODEL_FILE
from nnintro.run_folder.run import Run, open_run
from nnintro.tasks import SplitOutputs
from nnintro.training.outputs import member_outputs, out_of_fold, run_split


@dataclass
class EvalResult:
    run: Run
    split: str
    outputs: SplitOutputs
    metrics: dict[str, Any]
    out_dir: Path
    tables: list[TableSpec]


def evaluate(run_path: str | Path | None, split: str = "test", runs_root: str | Path = "runs",
             data_root: str | None = None, member: int | None = None) -> EvalResult:
    """Re-evaluate a run's best weights (its members' ensemble, or one member) on a split of its own dataset;
    writes RUN/eval/<split>/metrics.json (RUN/eval/<split>-member<I>/ for one member of several)."""
    run = open_run(run_path, runs_root)
    config = load_config(str(run.path / CONFIG_FILE))
    if data_root is not None:  # a path as typed, never parsed as YAML
        config.data.root = data_root
    model = load_model(run, member)
    try:
        data = load_dataset(config.data, config.seed)
    except DataError as err:  # name the option the user typed, not the run's config.yaml
        raise DataError(f"--data-root {data_root}: {err}" if data_root is not None else str(err)) from err
    task = run.task
    if data.task.describe() != task.describe():
        raise RunError(f"{run.path / MODEL_FILE}: the run was trained for {task.describe()}, but dataset "
                       f"{data.name} now gives {data.task.describe()}")
    loss_fn = data.task.per_sample_loss(config.loss)
    if data.folds is not None:  # every member's outputs: the pack the model views
        outputs = _fold_outputs(model.pack, data, split, loss_fn, config.train.eval_batch_size, member)
    else:
        outputs = run_split(model, data.split(split), loss_fn, config.train.eval_batch_size)
    from nnintro.reports.run_report import split_tables, write_split_report

    which = f"-member{member}" if member is not None and config.train.members > 1 else ""
    out_dir = output_folder(run.path / "eval" / f"{split}{which}", "run folder")
    title = f"{run.path.name}: {split}" + (f" (member {member})" if which else "")
    metrics = {"split": split, **task.metrics(outputs), "samples": len(outputs),
               **write_split_report(out_dir, task, outputs, title)}
    write_json(out_dir / METRICS_FILE, metrics)
    return EvalResult(run, split, outputs, metrics, out_dir, split_tables(task, metrics, title))


def _fold_outputs(pack_model: torch.nn.Module, data: DatasetBundle, split: str, loss_fn: Any, batch_size: int,
                  member: int | None) -> SplitOutputs:
    """A data.folds run on a split: a member on its own rows of it; all members: test out of fold (no row scored by a
    member that trained on it), train and val as each member's own rows one after the other."""
    pack = run_split(pack_model, data.split(split), loss_fn, batch_size)
    mine = member_outputs(pack, data.folds[split])
    if member is not None:
        return mine[member]
    if split == "test":
        return out_of_fold(pack, data.folds["test"])
    return SplitOutputs(*(torch.cat([getattr(m, part) for m in mine]) for part in ("outputs", "targets", "losses")))
