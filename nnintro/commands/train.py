"""The Python functions under the CLI: train, evaluate, predict. The tests and notebooks call these too."""
from __future__ import annotations

import shutil
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from nnintro.config import Config, load_config, validate
from nnintro.datasets import DatasetBundle
from nnintro.errors import ConfigError, NnintroError, RunError, StorageError
from nnintro.files import read_json, strict_json, write_atomic, write_csv, write_json
from nnintro.models.layers import architecture_for, count_parameters, describe, user_model
from nnintro.reports.console import ConsoleObserver
from nnintro.reports.layers import activation_health, health_warnings
from nnintro.reports.learned_function import learned_numbers
from nnintro.reports.stats import spread
from nnintro.reports.tensorboard import TensorBoardObserver
from nnintro.run_folder.checkpoint import RunFolder, checkpoint_config
from nnintro.run_folder.layout import (
    CHECKPOINT_FILE,
    CONFIG_FILE,
    METRICS_FILE,
    MODEL_FILE,
    SPLITS_FILE,
    create_run_dir,
    locked_run,
)
from nnintro.tasks import Classification, SplitOutputs, Task
from nnintro.training import distributed
from nnintro.training.device import check_precision, select_device
from nnintro.training.outputs import ensemble_outputs, member_outputs, out_of_fold, run_split
from nnintro.training.trainer import FitResult, Judge, Trainer, no_verdicts, prepare
from nnintro.version import __version__

RESUMABLE_OVERRIDES = ("train.epochs", "train.early_stopping.patience", "train.device", "train.eval_batch_size")


@dataclass
class TrainResult:
    run_dir: Path | None  # None on torchrun's other ranks, which write nothing
    metrics: dict[str, Any]
    fit: FitResult
    main_process: bool = True


class StopFlag:
    """First Ctrl-C/SIGTERM asks the trainer to stop after the current step; a second one exits at once."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise SystemExit(130)
        self.requested = True


@contextmanager
def stop_on_signals() -> Iterator[StopFlag]:
    flag = StopFlag()
    previous = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, flag.handle)
    except ValueError:  # not the main thread (e.g. a notebook worker): no handlers, nothing to restore
        pass
    try:
        yield flag
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def model_info(config: Config, data: DatasetBundle, model: torch.nn.Module) -> dict[str, Any]:
    """model.json: what rebuilds the model, its task, and how predict reads raw inputs."""
    architecture = architecture_for(config.model, data.input_shape, data.task.width, data.normalization,
                                    data.task.output_scale(), config.train.members)
    return {"architecture": architecture, **data.task.describe(), "dataset": data.name, "data_kind": data.kind,
            **({"inputs": data.inputs} if data.inputs else {}), "params": count_parameters(model),
            "nnintro_version": __version__, "torch_version": torch.__version__}


RECORD_FIELDS = ("architecture", "task", "classes", "targets", "inputs", "data_kind", "params")


def check_model_record(run_dir: Path, info: dict[str, Any]) -> None:
    """Before a resume trains: model.json must still describe the model this run's config and data build, or
    eval, predict and export would refuse (or misread) what the resumed run leaves."""
    try:
        recorded = read_json(run_dir / MODEL_FILE)
    except RunError as err:
        raise RunError(f"{err}; it is part of the run and cannot be rebuilt on --resume") from err
    if not isinstance(recorded, dict):
        raise RunError(f"{run_dir / MODEL_FILE}: not a model record; restore it before --resume")
    stored = {key: recorded[key] for key in RECORD_FIELDS if key in recorded}  # older runs record fewer fields
    fresh = {key: info.get(key) for key in stored}
    if stored.get("architecture"):
        from nnintro.models.layers import upgrade_architecture

        stored["architecture"] = upgrade_architecture(stored["architecture"])
    changed = _changed_fields(strict_json(stored), strict_json(fresh))
    if changed:
        raise RunError(f"{run_dir / MODEL_FILE}: {', '.join(changed[:4])} differ from the model this run's config "
                       f"and data build (was model.json edited?); restore it before --resume")


def _changed_fields(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of the leaves that differ between two mappings (configs, model records)."""
    changed = []
    for key in sorted(set(old) | set(new)):
        a, b, name = old.get(key), new.get(key), f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            changed += _changed_fields(a, b, f"{name}.")
        elif a != b:
            changed.append(name)
    return changed


class NothingLeft(NnintroError):
    """A resume of a finished run: nothing is trained and nothing is written; said, and exit 0."""

    exit_code = 0


def _check_work_left(run_dir: Path, config: Config) -> None:
    """A finished run resumed with nothing more to train is said so, and its metrics.json is left as it is."""
    metrics = run_dir / METRICS_FILE
    if not metrics.is_file():
        return
    try:
        finished = read_json(metrics)
    except RunError:
        return  # a damaged record: resuming rewrites it
    status, epochs = finished.get("status"), finished.get("epochs_run")
    if status == "pruned":
        raise NothingLeft(f"{run_dir}: nothing left to do: a hyperparameter search pruned it after epoch {epochs}; "
                          f"start a new run to train it further")
    if status == "stopped_early":
        raise NothingLeft(f"{run_dir}: nothing left to do: early stopping ended it after epoch {epochs}; start a "
                          f"new run to train differently")
    if status == "completed" and isinstance(epochs, int) and epochs >= config.train.epochs:
        raise NothingLeft(f"{run_dir}: nothing left to do: it completed {epochs} epochs; to train longer: "
                          f"nnintro train --resume {run_dir} --set train.epochs={epochs + 10}")


def _value_at(document: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        document = document.get(part) if isinstance(document, dict) else None
    return document


def _resume_config(run_dir: Path, overrides: list[str]) -> Config:
    """The config a resumed run continues with: config.yaml (edits included) plus --set, provided that what
    changed since the checkpoint was written only changes how long or how it is logged, not what is trained."""
    for assignment in overrides:
        key = assignment.partition("=")[0].strip()
        if key not in RESUMABLE_OVERRIDES:
            raise ConfigError(f"--set {key}: cannot change on --resume (it would change what was being trained); "
                              f"allowed: {', '.join(RESUMABLE_OVERRIDES)}")
    config = load_config(str(run_dir / CONFIG_FILE), overrides)
    started = checkpoint_config(run_dir / CHECKPOINT_FILE)
    if started is not None:
        current = config.model_dump(mode="json")
        changed = _changed_fields(started, current)
        refused = [name for name in changed if name not in RESUMABLE_OVERRIDES]
        if refused:
            shown = ", ".join(f"{name} ({_value_at(started, name)!r} in the checkpoint, "
                              f"{_value_at(current, name)!r} in config.yaml)" for name in refused[:3])
            raise ConfigError(f"{run_dir}: {CHECKPOINT_FILE} and {CONFIG_FILE} disagree on {shown}"
                              f"{' and more' if len(refused) > 3 else ''}: config.yaml was edited, or the checkpoint "
                              f"comes from another run; resuming cannot change what is trained (allowed: "
                              f"{', '.join(RESUMABLE_OVERRIDES)}); undo that, or start a new run")
        if "train.epochs" in changed and config.scheduler.name in ("cosine", "onecycle"):
            raise ConfigError(f"train.epochs: cannot change on --resume with scheduler '{config.scheduler.name}' "
                              f"(its schedule was laid out for {started['train']['epochs']} epochs); "
                              f"start a new run instead")
    return config


def train(config: Config | None = None, runs_root: str | Path = "runs", console: Console | None = None,
          resume: str | Path | None = None, overrides: list[str] | None = None,
          judge: Judge = no_verdicts) -> TrainResult:
    """Train one run (or continue one with resume=RUN_DIR) and write everything into its folder. judge: after
    each epoch, which members to stop and why (a hyperparameter search pruning its trials)."""
    console = console or Console(soft_wrap=True)
    if resume is not None:
        run_dir = Path(resume)
        if not (run_dir / CHECKPOINT_FILE).is_file():
            again = (f"; start it again: nnintro train --config {run_dir / CONFIG_FILE}"
                     if (run_dir / CONFIG_FILE).is_file() else "")
            raise RunError(f"{run_dir}: never started (stopped before its first checkpoint, {CHECKPOINT_FILE}), "
                           f"so there is nothing to resume{again}")
        config = _resume_config(run_dir, overrides or [])
        _check_work_left(run_dir, config)
        resume = run_dir
    config = config or validate({})
    dist = distributed.from_environment()
    if dist.enabled and config.train.engine == "numpy":
        raise ConfigError("train.engine: numpy trains in one process; run it without torchrun")
    if dist.enabled and config.data.folds:
        raise ConfigError("data.folds: cross-validation trains in one process; run it without torchrun")
    device = distributed.rank_device(dist, select_device("cpu" if config.train.engine == "numpy" else config.train.device))
    check_precision(device, config.train.precision)
    with distributed.process_group(dist, device):
        result = _train(config, dist, device, runs_root, console if dist.is_main else Console(quiet=True), resume, judge)
    if result.fit.status == "interrupted":
        raise TrainingInterrupted(result)
    return result


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped training after a step; the run is saved and can be resumed. A KeyboardInterrupt,
    so whoever called train (a notebook, a test runner) stops as its user asked; the CLI exits 130."""

    def __init__(self, result: TrainResult) -> None:
        super().__init__(f"interrupted; the run is saved: continue with nnintro train --resume {result.run_dir}")
        self.result = result


def _train(config: Config, dist: distributed.Distributed, device: torch.device, runs_root: str | Path,
           console: Console, resume: Path | None, judge: Judge) -> TrainResult:
    data, model = prepare(config)
    info = model_info(config, data, model)
    run_dir = Path(resume) if resume is not None else None
    if dist.is_main and run_dir is None:
        run_dir = create_run_dir(runs_root, config.run_name)
    elif dist.is_main:
        check_model_record(run_dir, info)
    try:
        if dist.is_main and resume is None:  # from its first moment the folder says what it is
            write_atomic(run_dir / CONFIG_FILE, config.to_yaml())
        with locked_run(run_dir) if dist.is_main else nullcontext():
            return _train_locked(config, data, model, info, dist, device, run_dir, console, resume, judge)
    except StorageError as err:
        if dist.is_main and (run_dir / METRICS_FILE).exists():  # what was written is whole: say what is there
            raise StorageError(f"{err}; training finished and {run_dir} keeps its weights and metrics.json, "
                               f"only pictures are missing") from err
        if dist.is_main and (run_dir / CHECKPOINT_FILE).exists():
            raise StorageError(f"{err}; the run so far is kept: nnintro train --resume {run_dir}") from err
        if resume is None and dist.is_main:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    except BaseException:
        if resume is None and dist.is_main and not (run_dir / CHECKPOINT_FILE).exists():
            shutil.rmtree(run_dir, ignore_errors=True)  # failed before it held anything: leave no empty run
        raise


def _train_locked(config: Config, data: DatasetBundle, model: torch.nn.Module, info: dict[str, Any],
                  dist: distributed.Distributed, device: torch.device, run_dir: Path | None, console: Console,
                  resume: Path | None, judge: Judge) -> TrainResult:
    ranks = f"  |  {dist.world_size} processes (DDP), global batch {config.data.batch_size}" if dist.enabled else ""
    threads = f" ({torch.get_num_threads()} threads)" if device.type == "cpu" else ""
    for note in data.notes:
        console.print(f"{data.name}: {note}", highlight=False, markup=False)
    console.print(f"run {run_dir}  |  {data.name}: {data.sizes}  |  {describe(info['architecture'])}  |  "
                  f"{info['params']:,} parameters  |  {device}{threads}{ranks}"
                  f"{'  |  numpy engine (nnintro/models/scratch.py)' if config.train.engine == 'numpy' else ''}",
                  highlight=False)
    model.to(device)
    data = data.to(device)
    board = None
    observers: list[Any] = [ConsoleObserver(console, config.train.epochs)]
    try:
        with stop_on_signals() as stop:
            trainer = Trainer(config, data, model, RunFolder(run_dir) if dist.is_main else None, observers, stop, dist,
                              judge)
            if resume is not None:
                trainer.resume(Path(resume) / CHECKPOINT_FILE)
            if dist.is_main:  # only now: a resume that fails above leaves the run as it was
                if resume is None:  # the record and a first checkpoint before anything slow: resumable at once
                    write_json(run_dir / MODEL_FILE, info)
                    if data.row_splits is not None:  # so anyone can score another tool on the same rows
                        write_csv(run_dir / SPLITS_FILE, [{"row": row, "split": split}
                                                          for row, split in enumerate(data.row_splits, 1)])
                    trainer.save_start()
                else:  # a new run's was written with its folder; a resumed one takes its --set overrides
                    write_atomic(run_dir / CONFIG_FILE, config.to_yaml())
                board = TensorBoardObserver(run_dir, model, data, config.report.histograms, config.train.epochs)
                observers.append(board)
            references = table_references(config, data, trainer, console) if dist.is_main else {}
            started = time.perf_counter()
            try:
                fit = trainer.fit()
            finally:
                observers[0].close()
        if not dist.is_main:
            return TrainResult(run_dir, {}, fit, main_process=False)
        metrics, test_outputs = final_metrics(trainer, fit, info, time.perf_counter() - started, device)
        if references:
            metrics["baselines"] = references
        write_json(run_dir / METRICS_FILE, metrics)
        if config.report.plots:
            from nnintro.reports.run_report import write_run_report  # matplotlib: only when drawing

            ensemble = user_model(model, data.task.combine, ensemble=trainer.members.alive)
            metrics.update(write_run_report(
                run_dir, ensemble, data, test_outputs, fit.history, fit.best_epoch, fit.stopped_early,
                info["architecture"], config.report.examples, run_dir.name, board.writer, board.boundary_frames,
                board.boundary_epochs, trainer.augment, lambda: untrained_model(config, info, data)))
        board.write_hparams(config.model_dump(mode="json"), metrics)
    finally:
        if board is not None:
            board.close()
    return TrainResult(run_dir, metrics, fit)


def untrained_model(config: Config, info: dict[str, Any], data: DatasetBundle) -> torch.nn.Module:
    """The run's model as it was before its first step, built again from its seeds (also for a resumed run)."""
    from nnintro.models.layers import build_model

    seeds = [member.seed for member in config.member_configs()]
    return user_model(build_model(info["architecture"], seeds), data.task.combine)


def table_references(config: Config, data: DatasetBundle, trainer: Trainer, console: Console) -> dict[str, Any]:
    """The reference models of a table run (data.baselines), fitted before the network trains, and their line."""
    if data.kind != "table" or not config.data.baselines:
        return {}
    from nnintro.training.references import reference_metrics

    references = reference_metrics(data, trainer.stepper.loss_fn, config.loss.class_weight == "balanced")
    metric = data.task.headline
    listed = ", ".join(f"{name.replace('_', ' ')} {result['test'][metric]:.4g}" for name, result in references.items())
    seconds = sum(result["seconds"] for result in references.values())
    console.print(f"references on the same rows, test {metric}: {listed} ({seconds:.1f}s; data.baselines)",
                  highlight=False, markup=False)
    return references


def final_metrics(trainer: Trainer, fit: FitResult, info: dict, wall_seconds: float,
                  device: torch.device) -> tuple[dict[str, Any], SplitOutputs]:
    """metrics.json's content, and the test split's outputs for the reports (the ensemble's, for a pack)."""
    config, task = trainer.config, trainer.task
    pack = {split: run_split(trainer.model, trainer.data.split(split), trainer.stepper.loss_fn,
                             config.train.eval_batch_size) for split in ("val", "test")}
    folds = trainer.data.folds
    each = {split: member_outputs(result, folds[split] if folds else None) for split, result in pack.items()}
    alive = trainer.members.alive or list(range(len(fit.members)))  # the ensemble leaves diverged members out
    if folds:  # out of fold: every row scored by the member it was held out from; val: the folds' mean
        outputs = {"test": out_of_fold(pack["test"], folds["test"])}
        metrics_of = {"val": mean_metrics([task.metrics(each["val"][k]) for k in alive]),
                      "test": task.metrics(outputs["test"])}
    else:
        outputs = {split: ensemble_outputs(result, lambda out: task.combine(out[alive]), trainer.stepper.loss_fn)
                   if len(fit.members) > 1 else result.members[0] for split, result in pack.items()}
        metrics_of = {split: task.metrics(result) for split, result in outputs.items()}
    metrics = {
        "status": fit.status,
        **metrics_of,
        **(pack_metrics(config, fit, each, task, metrics_of) if len(fit.members) > 1 else {}),
        **({"folds": len(fit.members)} if folds else {}),
        "best_epoch": fit.best_epoch,
        "epochs_run": len(fit.history),
        "stopped_early": fit.stopped_early,
        "train_seconds": round(fit.train_seconds, 4),
        "samples_per_second": round(fit.samples_trained / fit.train_seconds) if fit.train_seconds else None,
        "wall_seconds": round(wall_seconds, 3),
        "compile_seconds": round(trainer.stepper.compile_seconds, 3),
        "params": info["params"],
        "device": str(device),
        "processes": trainer.dist.world_size,
        "precision": config.train.precision,
        "message": fit.message,
        "layers": activation_health(trainer.model, trainer.data.val, config.train.eval_batch_size),
        **learned_numbers(user_model(trainer.model, task.combine, ensemble=alive), trainer.data, info["architecture"]),
    }
    metrics["warnings"] = (teaching_hints(fit.history, trainer.task, metrics_of["val"], config.optimizer.lr)
                           + rare_class_hints(task, outputs["test"], metrics_of["test"])
                           + health_warnings(metrics["layers"]))
    metrics["timing_warning"] = trainer.contention.message  # about the machine, not the model: beside the timings
    return metrics, outputs["test"]


def mean_metrics(each: list[dict[str, float]]) -> dict[str, float]:
    return {name: sum(m[name] for m in each) / len(each) for name in each[0]}


def pack_metrics(config: Config, fit: FitResult, each: dict[str, list[SplitOutputs]], task: Task,
                 ensemble: dict[str, dict[str, float]]) -> dict[str, Any]:
    """A pack's sections of metrics.json: each member (its seed, varied values, status, best epoch, val/test
    metrics on its own rows), the summary of the members that did not diverge (mean, std, min, max) and the
    ensemble (data.folds: the out-of-fold scores)."""
    members = []
    for k, (member_config, fitted) in enumerate(zip(config.member_configs(), fit.members)):
        varied = {key: member_config.value(key) for key in config.train.vary if key != "seed"}
        members.append({"member": k, "seed": member_config.seed, **varied, **fitted,
                        **{split: task.metrics(outputs[k]) for split, outputs in each.items()}})
    alive = [m for m in members if m["status"] != "diverged"]
    summary = {split: {metric: spread([m[split][metric] for m in alive]) for metric in task.higher_is_better}
               for split in each} if alive else {}
    return {"members": members, "summary": summary, "ensemble": ensemble}


def teaching_hints(history: list[dict[str, float]], task: Task, val: dict[str, float], lr: float) -> list[str]:
    """What a teacher would point out about a run that finished without error but learned badly."""
    hints = []
    losses = [row["train/loss"] for row in history]
    # every loss here is of order 1 at the start (cross-entropy ~ log(classes), standardized targets), so a
    # training loss past 100 is a learning rate out of range, even while it stays finite
    if losses and max(losses) > 100:
        hints.append(f"the training loss exploded (up to {max(losses):.3g}) without becoming infinite: "
                     f"optimizer.lr {lr:g} is likely too high; try nnintro lr-find")
    nothing = task.learned_nothing(val) if history else None
    if nothing:
        hints.append(f"validation {nothing}: the model learned nothing useful; check optimizer.lr "
                     f"(nnintro lr-find suggests one) and the data")
    return hints


def rare_class_hints(task: Task, test: SplitOutputs, test_metrics: dict[str, float]) -> list[str]:
    """Where a class is rare, accuracy hides how it fares: say each class's test recall."""
    rare = task.rare_classes() if isinstance(task, Classification) else []
    if not rare:
        return []
    recall = task.recall_per_class(test)
    listed = ", ".join(f"{name} {recall[name]:.3f}" for name in rare[:10] if name in recall)
    common = [value for name, value in recall.items() if name not in rare]
    others = f", the other classes' mean {sum(common) / len(common):.3f}" if common else ""
    return [f"{len(rare)} rare class{'es' if len(rare) > 1 else ''} (under 10% of the training rows): test recall "
            f"{listed}{' ...' if len(rare) > 10 else ''}{others}; balanced accuracy "
            f"{test_metrics['balanced_accuracy']:.3f}"]


