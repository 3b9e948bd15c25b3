"""The Python functions under the CLI: train, evaluate, predict. The tests and notebooks call these too."""
from __future__ import annotations

import random
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from rich.console import Console

from nnintro import __version__, distributed
from nnintro.checkpoint import load_model
from nnintro.config import Config, load_config, validate
from nnintro.datasets import DatasetBundle, load_dataset
from nnintro.device import check_precision, select_device
from nnintro.errors import ConfigError, InputError, RunError
from nnintro.evaluate import SplitOutputs, run_split
from nnintro.losses import per_sample_loss
from nnintro.models import architecture_for, build_model, count_parameters, describe
from nnintro.reports.console import ConsoleObserver
from nnintro.reports.run_report import FigureSink, write_confusion, write_run_report
from nnintro.reports.tensorboard import TensorBoardObserver
from nnintro.runs import (CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE, MODEL_FILE, Run,
                          create_run_dir, open_run, write_atomic, write_json)
from nnintro.train import FitResult, Trainer

# Overrides a resumed run may take: they change how long or how it is logged, not what is trained.
RESUMABLE_OVERRIDES = ("train.epochs", "train.early_stopping.patience", "train.device", "train.eval_batch_size")


@dataclass
class TrainResult:
    run_dir: Path | None  # None on torchrun's other ranks, which write nothing
    metrics: dict[str, Any]
    fit: FitResult
    main_process: bool = True


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


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
    architecture = architecture_for(config.model, data.input_shape, len(data.classes), data.normalization)
    return {"architecture": architecture, "classes": data.classes, "dataset": data.name, "data_kind": data.kind,
            "params": count_parameters(model), "nnintro_version": __version__}


def _resume_config(run_dir: Path, overrides: list[str]) -> Config:
    for assignment in overrides:
        key = assignment.partition("=")[0].strip()
        if key not in RESUMABLE_OVERRIDES:
            raise ConfigError(f"--set {key}: cannot change on --resume (it would change what was being trained); "
                              f"allowed: {', '.join(RESUMABLE_OVERRIDES)}")
    original = load_config(str(run_dir / CONFIG_FILE))
    config = load_config(str(run_dir / CONFIG_FILE), overrides)
    if config.train.epochs != original.train.epochs and config.scheduler.name in ("cosine", "onecycle"):
        raise ConfigError(f"--set train.epochs: cannot change on --resume with scheduler '{config.scheduler.name}' "
                          f"(its schedule was laid out for {original.train.epochs} epochs); start a new run instead")
    return config


def train(config: Config | None = None, runs_root: str | Path = "runs", console: Console | None = None,
          resume: str | Path | None = None, overrides: list[str] | None = None) -> TrainResult:
    """Train one run (or continue one with resume=RUN_DIR) and write everything into its folder."""
    console = console or Console(soft_wrap=True)
    if resume is not None:
        run_dir = Path(resume)
        if not (run_dir / CHECKPOINT_FILE).is_file():
            raise RunError(f"{run_dir}: nothing to resume (no {CHECKPOINT_FILE}; it is written after each epoch)")
        config = _resume_config(run_dir, overrides or [])
        resume = run_dir
    config = config or validate({})
    dist = distributed.from_environment()
    device = distributed.rank_device(dist, select_device(config.train.device))
    check_precision(device, config.train.precision)
    with distributed.process_group(dist, device):
        return _train(config, dist, device, runs_root, console if dist.is_main else Console(quiet=True), resume)


def prepare(config: Config) -> tuple[DatasetBundle, torch.nn.Module]:
    """The start of every training: seed, load the data (on the CPU), build the untrained model."""
    seed_everything(config.seed)
    data = load_dataset(config.data, config.seed)
    model = build_model(architecture_for(config.model, data.input_shape, len(data.classes), data.normalization))
    return data, model


def _train(config: Config, dist: distributed.Distributed, device: torch.device, runs_root: str | Path,
           console: Console, resume: Path | None) -> TrainResult:
    data, model = prepare(config)
    info = model_info(config, data, model)
    run_dir = Path(resume) if resume is not None else None
    if dist.is_main:
        if run_dir is None:
            run_dir = create_run_dir(runs_root, config.run_name)
            write_json(run_dir / MODEL_FILE, info)
        write_atomic(run_dir / CONFIG_FILE, config.to_yaml())
    ranks = f"  |  {dist.world_size} processes (DDP), global batch {config.data.batch_size}" if dist.enabled else ""
    console.print(f"run {run_dir}  |  {data.name}: {len(data.train)} train / {len(data.val)} val / "
                  f"{len(data.test)} test  |  {describe(info['architecture'])}  |  {info['params']:,} parameters  "
                  f"|  {device}{ranks}", highlight=False)
    model.to(device)
    data = data.to(device)
    board = TensorBoardObserver(run_dir, model, data, config.report.histograms) if dist.is_main else None
    observers = [ConsoleObserver(console, config.train.epochs), *([board] if board else [])]
    try:
        with stop_on_signals() as stop:
            trainer = Trainer(config, data, model, run_dir if dist.is_main else None, observers, stop, dist)
            if resume is not None:
                trainer.resume(Path(resume) / CHECKPOINT_FILE)
            started = time.perf_counter()
            try:
                fit = trainer.fit()
            finally:
                observers[0].close()
        if not dist.is_main:
            return TrainResult(run_dir, {}, fit, main_process=False)
        metrics, test_outputs = final_metrics(trainer, fit, info, time.perf_counter() - started, device)
        write_json(run_dir / METRICS_FILE, metrics)
        if config.report.plots:
            metrics["most_confused"] = write_run_report(
                run_dir, model, data, test_outputs, fit.history, fit.best_epoch, fit.stopped_early,
                info["architecture"], config.report.examples, run_dir.name, board.writer)
        board.write_hparams(config.model_dump(mode="json"), metrics)
    finally:
        if board is not None:
            board.close()
    return TrainResult(run_dir, metrics, fit)


def final_metrics(trainer: Trainer, fit: FitResult, info: dict, wall_seconds: float,
                  device: torch.device) -> tuple[dict[str, Any], SplitOutputs]:
    """metrics.json's content, and the test split's outputs for the reports."""
    config = trainer.config
    outputs = {split: run_split(trainer.model, trainer.data.split(split), trainer.loss_fn,
                                config.train.eval_batch_size) for split in ("val", "test")}
    metrics = {
        "status": fit.status,
        **{split: result.metrics() for split, result in outputs.items()},
        "best_epoch": fit.best_epoch,
        "epochs_run": len(fit.history),
        "stopped_early": fit.stopped_early,
        "train_seconds": round(fit.train_seconds, 4),
        "samples_per_second": round(fit.samples_trained / fit.train_seconds) if fit.train_seconds else None,
        "wall_seconds": round(wall_seconds, 3),
        "compile_seconds": round(trainer.compile_seconds, 3),
        "params": info["params"],
        "device": str(device),
        "processes": trainer.dist.world_size,
        "precision": config.train.precision,
        "message": fit.message,
    }
    return metrics, outputs["test"]


@dataclass
class EvalResult:
    run: Run
    split: str
    outputs: SplitOutputs
    metrics: dict[str, Any]
    out_dir: Path


def evaluate(run_path: str | Path | None, split: str = "test", runs_root: str | Path = "runs",
             data_root: str | None = None) -> EvalResult:
    """Re-evaluate a run's best weights on a split of its own dataset; writes RUN/eval/<split>/metrics.json."""
    from sklearn.metrics import classification_report

    run = open_run(run_path, runs_root)
    overrides = [f"data.root={data_root}"] if data_root else []
    config = load_config(str(run.path / CONFIG_FILE), overrides)
    model = load_model(run)
    data = load_dataset(config.data, config.seed)
    if data.classes != run.classes:
        raise RunError(f"{run.path / MODEL_FILE}: classes {run.classes} do not match dataset {data.name}")
    outputs = run_split(model, data.split(split), per_sample_loss(config.loss), config.train.eval_batch_size)
    report = classification_report(outputs.labels.numpy(), outputs.predictions.numpy(),
                                    labels=list(range(len(run.classes))), target_names=run.classes,
                                    output_dict=True, zero_division=0)
    out_dir = run.path / "eval" / split
    out_dir.mkdir(parents=True, exist_ok=True)
    confused = write_confusion(FigureSink(out_dir), outputs, run.classes, f"{run.path.name}: {split} confusion matrix")
    metrics = {"split": split, **outputs.metrics(), "samples": len(outputs.labels), "per_class": report,
               "most_confused": confused}
    write_json(out_dir / METRICS_FILE, metrics)
    return EvalResult(run, split, outputs, metrics, out_dir)


def predict(run_path: str | Path | None, files: list[str], top_k: int = 3, invert: bool = False,
            runs_root: str | Path = "runs", plot: Path | None = None) -> list[dict[str, Any]]:
    """Classify image (or .npy) files with a run's model; a file that fails gets {"file", "error"}.
    plot: also draw each input beside its class probabilities (as probabilities.png does for test images)."""
    from nnintro.inputs import load_input

    run = open_run(run_path, runs_root)
    model = load_model(run)
    results: list[dict[str, Any]] = []
    drawn: list[tuple[str, torch.Tensor, torch.Tensor]] = []
    k = max(1, min(top_k, len(run.classes)))
    for file in files:
        try:
            x = load_input(Path(file), run.model_info, invert)
        except InputError as err:
            results.append({"file": file, "error": str(err)})
            continue
        with torch.inference_mode():
            probabilities = torch.softmax(model(x.unsqueeze(0)).float(), 1)[0]
        values, indices = probabilities.topk(k)
        top = [[run.classes[i], round(float(p), 6)] for p, i in zip(values, indices)]
        results.append({"file": file, "prediction": top[0][0], "probability": top[0][1], "top_k": top})
        drawn.append((file, x, probabilities))
    if plot is not None and drawn:
        _plot_predictions(run, drawn, plot)
    return results


def _plot_predictions(run: Run, drawn: list[tuple[str, torch.Tensor, torch.Tensor]], path: Path) -> None:
    from nnintro.reports.plots import probabilities_figure, save_figure

    if run.model_info.get("data_kind") != "image":
        raise InputError(f"--plot {path}: this run's model takes 2-D points, not images; nothing to draw")
    images = torch.stack([x for _, x, _ in drawn]).numpy()
    probabilities = torch.stack([p for _, _, p in drawn]).numpy()
    titles = [Path(file).name for file, _, _ in drawn]
    figure = probabilities_figure(images, run.architecture["normalization"]["scale"], probabilities, run.classes,
                                  [None] * len(drawn), titles)
    save_figure(figure, path)
