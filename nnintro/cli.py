"""The `nnintro` command line: each command parses its options, calls one function in nnintro.commands, formats.

Heavy imports (torch and everything that uses it) happen inside the commands so `--help` stays instant.
"""
from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from nnintro.errors import STORAGE_ERRNOS, NnintroError, storage_error

app = typer.Typer(add_completion=True, pretty_exceptions_enable=False, no_args_is_help=True,
                  help="Train linear baselines and MLPs on MNIST, Fashion-MNIST, CIFAR-10 and teaching datasets.")
# logs and CI get tables wide enough for run names; a terminal uses its own width
WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
console = Console(soft_wrap=True, width=WIDTH)
err_console = Console(stderr=True, soft_wrap=True, width=WIDTH)
STATE = {"debug": bool(os.environ.get("NNINTRO_DEBUG"))}
# Typer's own usage errors (click's ClickException, which newer Typers vendor): they print and exit themselves
CLICK_EXCEPTION = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class SplitName(str, Enum):
    train = "train"
    val = "val"
    test = "test"


def user_errors(command: Callable) -> Callable:
    """Turn the NnintroError family into one line on stderr and exit 2; tracebacks only with --debug."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except NnintroError as err:
            if STATE["debug"]:
                raise
            err_console.print(f"{'error: ' if err.exit_code else ''}{err}", highlight=False, markup=False, soft_wrap=True)
            raise typer.Exit(err.exit_code) from None
        except (typer.Exit, typer.Abort, CLICK_EXCEPTION):
            raise
        except KeyboardInterrupt as err:
            if not hasattr(err, "result"):  # a training interruption has said where its run is
                err_console.print("interrupted")
            raise
        except Exception as err:
            if STATE["debug"]:
                raise
            if isinstance(err, OSError) and err.errno in STORAGE_ERRNOS:  # a write outside write_atomic (TensorBoard)
                err_console.print(f"error: {storage_error(err, err.filename or 'a file')}", highlight=False,
                                  markup=False, soft_wrap=True)
                raise typer.Exit(2) from None
            if type(err).__name__ == "OutOfMemoryError":
                err_console.print("error: the GPU ran out of memory; lower data.batch_size or train.eval_batch_size "
                                  "(e.g. --set data.batch_size=64)", highlight=False)
                raise typer.Exit(2) from None
            # one line, never the native stack frames some torch errors carry in their message
            first_line = next(iter(str(err).strip().splitlines()), "")[:200]
            err_console.print(f"internal error: {type(err).__name__}: {first_line} (run with --debug for the "
                              f"traceback; this is a bug, please report it)", highlight=False, markup=False,
                              soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


def _print_version(asked: bool) -> None:
    if asked:
        from importlib.metadata import PackageNotFoundError, version

        from nnintro.version import __version__

        try:
            torch_version = version("torch")
        except PackageNotFoundError:
            torch_version = "not installed"
        console.print(f"nnintro {__version__} (torch {torch_version}, Python {sys.version.split()[0]})", highlight=False)
        raise typer.Exit()


@app.callback()
def root(
    debug: Annotated[bool, typer.Option("--debug", metavar="", help="Show full tracebacks (also: NNINTRO_DEBUG=1).")] = False,
    version: Annotated[bool, typer.Option("--version", metavar="", callback=_print_version, is_eager=True,
                                          help="Print nnintro's and torch's versions and exit.")] = False,
) -> None:
    if debug:
        STATE["debug"] = True


ConfigOption = Annotated[Optional[str], typer.Option("--config", "-c", help="YAML file, or a packaged config name "
                                                     "(mnist_mlp, cifar_linear, ...). Default: the offline digits MLP.")]
SetOption = Annotated[Optional[list[str]], typer.Option("--set", "-s", help="Override a field: --set optimizer.lr=0.05 "
                                                         "(value parsed as YAML). Repeatable.")]
RunsDirOption = Annotated[Path, typer.Option("--runs-dir", help="Folder holding the runs.")]
ForceOption = Annotated[bool, typer.Option("--force", metavar="", help="Replace an existing output file (never done otherwise).")]


def _print_tables(tables: list) -> None:
    for table in tables:
        console.print(table.to_rich())


@app.command()
@user_errors
def train(
    config: ConfigOption = None,
    set_: SetOption = None,
    print_config: Annotated[bool, typer.Option("--print-config", metavar="", help="Print the resolved config and exit.")] = False,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="Continue RUN_DIR after its last completed epoch.")] = None,
    members: Annotated[Optional[int], typer.Option("--members", help="Train this many models at once (seeds seed, "
                                                   "seed+1, ...) and their ensemble; the same as --set train.members=N.")] = None,
    runs_dir: RunsDirOption = Path("runs"),
) -> None:
    """Train a model from a YAML config; everything lands in runs/<name>-<time>/."""
    from nnintro.config import load_config

    overrides = list(set_ or [])
    if members is not None:
        if resume is not None:
            raise typer.BadParameter("a resumed run keeps the members it was started with; leave out --members")
        overrides.append(f"train.members={members}")
    if resume is None:
        resolved = load_config(config, overrides)
        if print_config:
            console.print(resolved.to_yaml(), end="", highlight=False, markup=False)
            return
    elif config:
        raise typer.BadParameter("--resume continues with the run's own config; leave out --config")
    from nnintro.commands.train import TrainingInterrupted
    from nnintro.commands.train import train as train_run

    try:
        result = train_run(None if resume else resolved, runs_dir, console, resume, overrides if resume else None)
    except TrainingInterrupted as stopped:  # the run is saved: show it, then stop as asked
        _report_training(stopped.result)
        err_console.print(f"interrupted; continue with: nnintro train --resume {stopped.result.run_dir}",
                          highlight=False)
        raise
    if result.main_process:
        _report_training(result)


def _report_training(result: Any) -> None:
    """The end-of-run summary, its warnings and what to do next; exit 3 for a diverged run."""
    from nnintro.reports.summary import print_summary

    if result.main_process and not print_summary(result.metrics, result.run_dir, console, err_console):
        raise typer.Exit(3)


MemberOption = Annotated[Optional[int], typer.Option("--member", help="A run with several members: use member I "
                                                                      "alone (0, 1, ...). Default: their ensemble.")]


@app.command("eval")
@user_errors
def eval_(
    run: Annotated[Optional[Path], typer.Argument(help="Run folder. Default: the newest under --runs-dir.")] = None,
    split: Annotated[SplitName, typer.Option("--split", help="Which split to evaluate.")] = SplitName.test,
    runs_dir: RunsDirOption = Path("runs"),
    data_root: Annotated[Optional[str], typer.Option("--data-root", help="Dataset folder, if not the run's.")] = None,
    as_json: Annotated[bool, typer.Option("--json", metavar="", help="Print the metrics as JSON instead.")] = False,
    member: MemberOption = None,
) -> None:
    """Evaluate a run's best weights on a split: its task's metrics, per class or per target, and pictures."""
    from nnintro.commands.evaluate import evaluate

    result = evaluate(run, split.value, runs_dir, data_root, member)
    if as_json:
        from nnintro.files import dumps_json

        print(dumps_json(result.metrics), end="")
        return
    _print_tables(result.tables)
    console.print(f"wrote {result.out_dir / 'metrics.json'} and the pictures beside it", highlight=False)


@app.command()
@user_errors
def predict(
    run: Annotated[Path, typer.Argument(help="Run folder whose model predicts.")],
    files: Annotated[list[str], typer.Argument(help="Image files (PNG, JPEG, ...) or .npy arrays; for a table run, "
                                                    "CSV files with the columns it was trained on.")],
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, help="How many classes to show.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", metavar="",
                                          help="Print a JSON list, one object per file (per row for CSV).")] = False,
    invert: Annotated[bool, typer.Option("--invert", metavar="", help="Invert gray levels: dark ink on white paper -> "
                                         "MNIST's white-on-black.")] = False,
    center: Annotated[bool, typer.Option("--center", metavar="", help="Gray models: crop to the ink and centre it by "
                                         "mass as the training digits were (MNIST: a 20/28 box; digits: the whole "
                                         "frame), for your own drawings.")] = False,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Draw each image beside its class probabilities "
                                                 "into this PNG.")] = None,
    force: ForceOption = False,
    member: MemberOption = None,
) -> None:
    """Predict with a trained run: classes for images, values (or classes) for the rows of a CSV."""
    from nnintro.commands.predict import predict as predict_files
    from nnintro.files import dumps_json
    from nnintro.run_folder.run import open_run

    results = predict_files(run, files, top_k, invert, plot=plot, force=force, center=center, member=member)
    if as_json:
        print(dumps_json(results), end="")
    else:
        task = open_run(run).task
        for item in results:
            where = item["file"] + (f" row {item['row']}" if "row" in item else "")
            if "error" in item:
                err_console.print(f"error: {item['error']}", highlight=False, markup=False)
                continue
            unseen = "".join(f"   (unseen {k}={v!r}: treated as none of the known values)"
                             for k, v in item.get("unseen", {}).items())
            console.print(f"{where}: {task.format_prediction(item)}{unseen}", highlight=False, markup=False)
            for key in ("centered", "hint"):
                if key in item:
                    err_console.print(f"  {key}: {item[key]}", highlight=False, markup=False)
    if plot is not None and not as_json:
        console.print(f"wrote {plot}", highlight=False)
    if any("error" in item for item in results):
        raise typer.Exit(2)


@app.command()
@user_errors
def compare(
    items: Annotated[list[str], typer.Argument(help="Run folders, or with --configs, config files/names.")],
    configs: Annotated[bool, typer.Option("--configs", metavar="", help="The arguments are configs: each uses its newest "
                                          "finished run with the same config under --runs-dir, or trains one.")] = False,
    md: Annotated[Optional[Path], typer.Option("--md", help="Also write the table as markdown to this file.")] = None,
    set_: SetOption = None,
    repeat: Annotated[int, typer.Option("--repeat", min=1, max=1024, help="With --configs: train each config with "
                                        "this many seeds at once (a pack); the table shows mean ± std and how far "
                                        "the first row is ahead, with a 95% confidence interval.")] = 1,
    unfinished: Annotated[bool, typer.Option("--unfinished", help="List runs that were interrupted, diverged or "
                                             "never trained after the ranking, marked and unranked (by default "
                                             "compare refuses them).")] = False,
    first_images: Annotated[Optional[int], typer.Option("--first-images", min=1, max=32, help="compare_probabilities"
                                                        ".png on the first N test images, as the course lab shows "
                                                        "them (default: six spread over the classes).")] = None,
    runs_dir: RunsDirOption = Path("runs"),
    force: ForceOption = False,
) -> None:
    """Compare runs side by side, best validation first: dataset, model, parameters, epochs, time, val and test metric.
    Folders of nnintro's own reports (compare-*, lr_find-*) among the arguments are skipped, so `runs/*` works."""
    from nnintro.commands.compare import runs_for_configs, summarize, write_comparison
    from nnintro.files import output_file
    from nnintro.run_folder.layout import is_report_folder

    if md is not None:
        output_file(md, "--md", force)
    if (set_ or repeat > 1) and not configs:
        raise typer.BadParameter("--set and --repeat apply to --configs (trained runs keep their own config)")
    if configs:
        from nnintro.commands.train import TrainingInterrupted

        try:
            paths = runs_for_configs(items, runs_dir, console, list(set_ or []), repeat)
        except TrainingInterrupted as stopped:  # stop the whole comparison, saying where the run is
            err_console.print(f"interrupted: compare stopped; continue that run with: nnintro train --resume "
                              f"{stopped.result.run_dir}", highlight=False)
            raise
    else:
        paths = [Path(item) for item in items if not is_report_folder(Path(item))]
        if len(paths) < len(items):
            err_console.print(f"skipped {len(items) - len(paths)} report folder(s) (compare-*, lr_find-*)",
                              highlight=False)
    summaries = [summarize(path) for path in paths]
    folder, table = write_comparison(summaries, runs_dir, md, unfinished, first_images)
    console.print(table.to_rich())
    console.print(f"wrote {folder / 'compare.png'} and {folder / 'compare.md'}" + (f" and {md}" if md else ""),
                  highlight=False)


@app.command("runs")
@user_errors
def list_runs(runs_dir: RunsDirOption = Path("runs")) -> None:
    """Every run under --runs-dir, newest first: dataset, model, status, best validation and test metric, time."""
    from nnintro.commands.compare import runs_table

    console.print(runs_table(runs_dir).to_rich())


@app.command()
@user_errors
def bench(
    dataset: Annotated[str, typer.Option("--dataset", help="mnist or cifar10.")] = "mnist",
    data_root: Annotated[Optional[str], typer.Option("--data-root", help="Folder with the real dataset files "
                                                     "(torchvision layout). Default: synthetic data in the real shapes.")] = None,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Epochs per loop, one a round (median reported).")] = 5,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 64,
    hidden: Annotated[Optional[str], typer.Option("--hidden", help="Hidden widths, e.g. 128 or 512,256. "
                                                  "Default: 128 (mnist), 512,256 (cifar10).")] = None,
    workers: Annotated[int, typer.Option("--workers", min=0, help="DataLoader workers for the course loop.")] = 2,
    baseline_steps: Annotated[Optional[int], typer.Option("--baseline-steps", min=1, help="Time the course loop "
                                                          "on this many steps per epoch and extrapolate.")] = None,
    members: Annotated[int, typer.Option("--members", min=1, max=1024, help="Also time nnintro training this many "
                                         "models packed (1: skip).")] = 8,
    adam: Annotated[bool, typer.Option("--adam/--no-adam", help="Also time nnintro and the plain PyTorch loop with "
                                       "mnist_mlp's Adam (lr 0.001) and dropout 0.2.")] = True,
    target: Annotated[Optional[float], typer.Option("--target", min=0, max=1, help="Time to accuracy instead: train "
                                                    "--config until its test accuracy reaches this, e.g. 0.98.")] = None,
    device: Annotated[Optional[str], typer.Option("--device", help="Where it runs: cpu, cuda (cuda:N), mps or "
                                                  "auto. Default: cpu for the loops; with --target, the config's "
                                                  "train.device.")] = None,
    config: ConfigOption = None,
    set_: SetOption = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the markdown and JSON reports.")] = Path("bench/results"),
) -> None:
    """Time nnintro's trainer against the classic DataLoader loop and Lightning, next to the arithmetic bound;
    with --target, the wall time a config takes to reach a test accuracy."""
    from nnintro.commands.bench import bench_table, machine_note, run_bench, write_report
    from nnintro.files import output_folder

    output_folder(out, "--out")

    def progress(line: str) -> None:
        err_console.print(line, highlight=False, markup=False)

    if target is not None or config or set_:
        if target is None:
            raise typer.BadParameter("--config and --set go with --target (time to accuracy)")
        from nnintro.commands.bench import time_to_accuracy, time_to_accuracy_table
        from nnintro.config import load_config

        overrides = [*(set_ or []), *([f"train.device={device}"] if device else [])]
        report = time_to_accuracy(load_config(config, overrides), target, progress=progress)
        table, stem = time_to_accuracy_table(report), f"time-to-{target:g}-{report['config']}"
    else:
        widths = [int(w) for w in hidden.split(",")] if hidden else None
        report = run_bench(dataset, data_root, epochs, batch_size, widths, workers=workers,
                           baseline_steps=baseline_steps, members=members, adam=adam, device=device or "cpu",
                           progress=progress)
        table, stem = bench_table(report), f"bench-{report['dataset']}-b{report['batch_size']}"
    console.print(table.to_rich())
    console.print(f"the machine: {machine_note(report)}", highlight=False, markup=False)
    md_path, json_path = write_report(report, out, table, stem)
    console.print(f"wrote {md_path} and {json_path}", highlight=False)


@app.command()
@user_errors
def sweep(
    config: ConfigOption = None,
    grid: Annotated[Optional[list[str]], typer.Option(
        "--grid", "-g", help="KEY=V1,V2,... (values as YAML, e.g. \"model.hidden=[128],[256,256]\"). "
                             "Repeatable: every combination runs.")] = None,
    repeat: Annotated[int, typer.Option("--repeat", min=1, help="Seeds per grid point (seed, seed+1, ...).")] = 1,
    name: Annotated[Optional[str], typer.Option("--name", help="Sweep folder under --runs-dir. "
                                                "Default: sweep-<config name>.")] = None,
    set_: SetOption = None,
    no_pack: Annotated[bool, typer.Option("--no-pack", metavar="", help="Train every grid point and seed as a run of "
                                          "its own, instead of packing those that differ only in seed, lr, momentum, "
                                          "weight decay or L1 into one run.")] = False,
    runs_dir: RunsDirOption = Path("runs"),
) -> None:
    """Train every combination of a grid and rank them; a restarted sweep skips finished runs."""
    from nnintro.commands.sweep import run_sweep

    result = run_sweep(config, list(grid or []), repeat, name, runs_dir, list(set_ or []), console,
                       progress=lambda line: console.rule(line, style="dim"), pack=not no_pack)
    console.print(result.table.to_rich())
    console.print(f"wrote {result.folder}/summary.md, summary.csv, {', '.join(result.pictures)}; "
                  f"tensorboard --logdir {result.folder} compares them in the HParams tab", highlight=False)


@app.command()
@user_errors
def tune(
    config: ConfigOption = None,
    space: Annotated[Optional[list[str]], typer.Option(
        "--space", "-s", help="FIELD=KIND(...): log(1e-4,1e-1), uniform(0,0.5), int(1,4), logint(16,512), "
                              "choice([64],[128,64]). Repeatable; adds to the config's tune.space.")] = None,
    trials: Annotated[Optional[int], typer.Option("--trials", "-n", min=1, help="Trials in the study (default "
                                                  "tune.trials, 40); with --resume: how many more.")] = None,
    study: Annotated[Optional[str], typer.Option("--study", help="The study's name and folder under --runs-dir. "
                                                 "Default: tune-<config name>.")] = None,
    storage: Annotated[Optional[str], typer.Option("--storage", help="Where the study lives: a database URL "
                                                   "(postgresql://..., mysql://..., sqlite:///...) or a journal file "
                                                   "path. Default: runs/<study>/study.db.")] = None,
    resume: Annotated[bool, typer.Option("--resume", metavar="", help="Continue --study with its stored config "
                                         "and space; --trials more trials.")] = False,
    sampler: Annotated[Optional[str], typer.Option("--sampler", help="tpe (default), random, grid, cmaes.")] = None,
    pruner: Annotated[Optional[str], typer.Option("--pruner", help="median (default), halving, none.")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=256, help="Worker processes on this machine.")] = 1,
    pack: Annotated[int, typer.Option("--pack", min=1, max=1024, help="Trials asked at once; those that share the "
                                      "model's shape train together as one pack.")] = 8,
    confirm: Annotated[int, typer.Option("--confirm", min=0, max=20, help="Train the best this many points again "
                                         "on fresh seeds, beside the default, and compare them (0: skip).")] = 3,
    seeds: Annotated[int, typer.Option("--seeds", min=2, max=64, help="Fresh seeds per confirmed point.")] = 5,
    grace: Annotated[float, typer.Option("--grace", min=2, help="Seconds without a heartbeat after which a trial "
                                         "is taken as killed: failed and asked again.")] = 120,
    worker: Annotated[bool, typer.Option("--worker", hidden=True)] = False,
    set_: SetOption = None,
    runs_dir: RunsDirOption = Path("runs"),
) -> None:
    """Search hyperparameters with Optuna: a sampler that learns, pruning, packed trials, many workers.
    Needs the tune extra: pip install 'nnintro[tune]'."""
    from nnintro.commands.tune import PRUNERS, SAMPLERS
    from nnintro.commands.tune import tune as run_tune

    for option, value, valid in (("--sampler", sampler, SAMPLERS), ("--pruner", pruner, PRUNERS)):
        if value is not None and value not in valid:
            raise typer.BadParameter(f"'{value}' (valid: {', '.join(valid)})", param_hint=option)
    from nnintro.commands.train import TrainingInterrupted

    try:
        result = run_tune(config, list(set_ or []), list(space or []), trials, study, storage, resume, sampler, pruner,
                          workers, pack, confirm, seeds, runs_dir, grace, worker,
                          say=lambda line: console.print(line, highlight=False, markup=False))
    except TrainingInterrupted as stopped:
        name = getattr(stopped, "study", None)
        err_console.print(f"interrupted; the study is saved and the interrupted trials are queued: continue with "
                          f"nnintro tune --study {name} --resume --trials N" if name else
                          "interrupted while confirming; the same command again reuses every finished run",
                          highlight=False, markup=False)
        raise
    if worker:
        return
    if result.rows:
        console.print(result.table.to_rich())
        console.print(f"winner: {result.rows[0].label}; reproduce it with:\n  {result.winner_line}", highlight=False,
                      markup=False)
    console.print(f"wrote {result.folder}/summary.md, summary.csv{''.join(', ' + p for p in result.pictures)}; "
                  f"{result.trials} trials finished in {result.storage}; tensorboard --logdir {result.folder} shows "
                  f"every trial in its HParams tab", highlight=False, markup=False)


@app.command("lr-find")
@user_errors
def lr_find(
    config: ConfigOption = None,
    set_: SetOption = None,
    steps: Annotated[int, typer.Option("--steps", min=3, help="Steps in the ramp (over as many epochs as it takes).")] = 100,
    start_lr: Annotated[float, typer.Option("--start-lr", min=0, help="First learning rate.")] = 1e-7,
    end_lr: Annotated[float, typer.Option("--end-lr", min=0, help="Last learning rate.")] = 10.0,
    runs_dir: RunsDirOption = Path("runs"),
) -> None:
    """Learning-rate range test: ramp the lr, watch the loss, get a suggested lr and lr_find.png."""
    from nnintro.commands.lr_find import lr_find as find
    from nnintro.config import load_config

    if not 0 < start_lr < end_lr:
        raise typer.BadParameter("need 0 < --start-lr < --end-lr")
    result = find(load_config(config, list(set_ or [])), runs_dir, steps, start_lr, end_lr)
    console.print(f"suggested learning rate: {result.suggested:.3g}  (minimum of the smoothed loss / 10; steepest "
                  f"descent at {result.steepest:.3g}; {len(result.points)} steps)", highlight=False)
    import shlex

    given = "".join(f" --set {shlex.quote(item)}" for item in set_ or [] if not item.startswith("optimizer.lr="))
    console.print(f"try: nnintro train{' --config ' + shlex.quote(config) if config else ''}{given} "
                  f"--set optimizer.lr={result.suggested:.3g}", highlight=False, markup=False)
    console.print(f"wrote {result.folder}/lr_find.png and lr_find.csv", highlight=False)


class ExportFormat(str, Enum):
    onnx = "onnx"


@app.command()
@user_errors
def export(
    run: Annotated[Path, typer.Argument(help="Run folder whose model to export.")],
    format_: Annotated[ExportFormat, typer.Option("--format", help="Only onnx for now.")] = ExportFormat.onnx,
    out: Annotated[Optional[Path], typer.Option("--out", help="File to write. Default: RUN/model.onnx.")] = None,
    force: ForceOption = False,
) -> None:
    """Export a run's model (input standardization included, class names in the metadata) to ONNX."""
    from nnintro.commands.export import export_onnx

    result = export_onnx(run, out, force)
    checked = (f"; onnxruntime agrees with PyTorch to {result['max_difference']:.1e}"
               if result["max_difference"] is not None else "; install onnxruntime to check it")
    console.print(f"wrote {result['path']}{checked}", highlight=False)


@app.command()
@user_errors
def show(
    config: ConfigOption = None,
    set_: SetOption = None,
    count: Annotated[int, typer.Option("--count", min=1, max=100, help="How many training images to draw.")] = 30,
    out: Annotated[Optional[Path], typer.Option("--out", help="PNG to write. Default: <dataset>_samples.png here "
                                                "(or -2, -3, ... if that exists).")] = None,
    force: ForceOption = False,
) -> None:
    """Look at the data first: training images with their class names, the 2-D points, or a table's columns."""
    from nnintro.commands.show import UNTRAINED_SUFFIX, show_data
    from nnintro.config import load_config

    resolved = load_config(config, list(set_ or []))
    path, tables = show_data(resolved, _picture_path(out, f"{resolved.data.dataset}_samples.png", force,
                                                     (UNTRAINED_SUFFIX,)), count)
    _print_tables(tables)
    if path is not None:
        untrained = path.with_suffix(UNTRAINED_SUFFIX)
        console.print(f"wrote {path}" + (f" and {untrained}" if untrained.exists() else ""), highlight=False)


@app.command()
@user_errors
def backprop(
    network: Annotated[str, typer.Argument(help="A built-in example (neuron, batch, xor, lecture_xor) or a YAML "
                                                "file with input, "
                                                "target and layers (weight, bias, activation).")] = "xor",
    inputs: Annotated[Optional[str], typer.Option("--input", help="Replace the input, e.g. 1,1.")] = None,
    target: Annotated[Optional[str], typer.Option("--target", help="Replace the target, e.g. 0.")] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", min=1e-6, max=100, help="Then take one step of gradient "
                                                "descent with this learning rate and show what it changed.")] = None,
    gates: Annotated[bool, typer.Option("--gates", help="A single sigmoid neuron as the lecture's gates (x, +, "
                                        "x-1, exp, +1, 1/x), each with its local gradient.")] = False,
    board: Annotated[Optional[int], typer.Option("--round", min=0, max=6, help="Also show the forward pass with "
                                                 "the hidden outputs rounded to this many decimals, as a slide "
                                                 "does (lecture_xor: 2).")] = None,
) -> None:
    """A tiny network's forward pass and every gradient, node by node (the lecture's board work)."""
    from nnintro.commands.backprop import (
        BOARD_DIGITS,
        descend,
        describe,
        describe_board,
        describe_gates,
        describe_step,
        load_network,
        trace,
    )
    from nnintro.commands.backprop import gates as neuron_gates

    chosen = load_network(network, _numbers(inputs, "--input") if inputs else None,
                          _numbers(target, "--target") if target else None)
    if gates:
        for line in describe_gates(neuron_gates(chosen)):
            console.print(line, highlight=False, markup=False)
        return
    if lr is not None and chosen.target is None:
        raise typer.BadParameter("--lr: a step of gradient descent needs a loss; give --target")
    result = trace(chosen)
    lines = describe(result, chosen)
    if board is not None and len(chosen.layers) < 2:
        raise typer.BadParameter("--round: rounds the hidden outputs; this network has no hidden layer")
    digits = board if board is not None else BOARD_DIGITS.get(network)
    if digits is not None and len(chosen.layers) > 1:
        lines += describe_board(result, chosen, digits)
    if lr is not None:
        lines += describe_step(result, trace(descend(chosen, result, lr)), lr)
    for line in lines:
        console.print(line, highlight=False, markup=False)


@app.command()
@user_errors
def losses(
    predicted: Annotated[Optional[str], typer.Option("--predicted", help="Regression outputs, e.g. 2.5,0,2.1 "
                                                     "(samples separated by ';').")] = None,
    logits: Annotated[Optional[str], typer.Option("--logits", help="Classification logits, one row per sample, "
                                                  "e.g. '2,1,0.1; 0.5,2.5,0'.")] = None,
    probabilities: Annotated[Optional[str], typer.Option("--probabilities", help="A model's probability "
                                                         "distribution(s), e.g. 0.7,0.2,0.1.")] = None,
    target: Annotated[str, typer.Option("--target", help="Regression targets; the true class per sample (with "
                                        "--logits); or the target distribution(s).")] = ...,
) -> None:
    """The lecture's loss functions on your numbers (MSE, MAE, Huber; cross-entropy, NLL, KL; soft targets), each
    with its formula, computed from the formula and checked against torch.nn.functional."""
    from nnintro.commands.losses import evaluate

    console.print(evaluate(predicted, logits, probabilities, target).to_rich())


@app.command()
@user_errors
def lessons(
    out: Annotated[Path, typer.Option("--out", help="Folder for the notebooks (created if missing).")] = Path("course"),
    lang: Annotated[str, typer.Option("--lang", help="The prose's language: en, pl or ru (code and numbers are "
                                      "the same in all).")] = "en",
    student: Annotated[bool, typer.Option("--student", help="The exercise version: the cells a student writes "
                                          "are TODOs, each followed by a check cell.")] = False,
    force: ForceOption = False,
) -> None:
    """The course as Jupyter notebooks, one per lesson, in the course's order: open them with `jupyter lab`."""
    from nnintro.commands.lessons import write_lessons

    for path in write_lessons(out, lang, student, force):
        console.print(f"wrote {path}", highlight=False)


@app.command()
@user_errors
def serve(
    runs: Annotated[list[Path], typer.Argument(help="Run folders to serve side by side (image, table or 2-D runs).")],
    host: Annotated[str, typer.Option("--host", help="Address to listen on. The default answers this machine only; "
                                      "0.0.0.0 lets anyone who can reach it use the page and the API.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
) -> None:
    """A live page (draw, drop or type an input; watch the models answer) and an HTTP API over trained runs.
    Needs the serve extra: pip install 'nnintro[serve]'."""
    from nnintro.web.app import serve as serve_runs

    if host in ("0.0.0.0", "::"):
        err_console.print(f"listening on every network interface ({host}): anyone who can reach this machine can use "
                          f"the page and the API", highlight=False)
    serve_runs(runs, host, port, say=lambda text: console.print(text, highlight=False, markup=False))


@app.command()
def configs() -> None:
    """List the packaged configs (use one with --config NAME; copy one from configs/ to change it)."""
    from nnintro.config import packaged_config_summaries
    from nnintro.reports.tables import Column, TableSpec

    rows = [{"name": name, "what": what} for name, what in packaged_config_summaries().items()]
    console.print(TableSpec("packaged configs: nnintro train --config NAME", [
        Column("name", "name", left=True), Column("what", "what it trains", left=True)], rows).to_rich())


plot_app = typer.Typer(help="The lecture's pictures.", no_args_is_help=True)
app.add_typer(plot_app, name="plot")
OutOption = Annotated[Optional[Path], typer.Option("--out", help="PNG file to write. Default: <name>.png here, "
                                                    "or <name>-2.png, ... if that exists.")]


def _picture_path(out: Path | None, default: str, force: bool, companions: tuple[str, ...] = ()) -> Path:
    """The picture's file; companions: suffixes of files written beside it (the .gif of --animate)."""
    from nnintro.files import output_file, unused_path

    if out is None:
        return unused_path(Path(default), companions)
    for suffix in companions:
        output_file(Path(out).with_suffix(suffix), "--out", force)
    return output_file(out, "--out", force)


@plot_app.command("activations")
@user_errors
def plot_activations(out: OutOption = None, force: ForceOption = False) -> None:
    """Every supported activation and its derivative."""
    from nnintro.commands.plot import plot_activations as draw

    console.print(f"wrote {draw(_picture_path(out, 'activations.png', force))}", highlight=False)


def _numbers(text: str, option: str) -> list[float]:
    import math

    try:
        values = [float(part) for part in text.split(",")]
    except ValueError as err:
        raise typer.BadParameter(f"{option}: give numbers separated by commas, e.g. 2,1,0.1") from err
    if not values or not all(math.isfinite(v) for v in values) or len(values) > 100:
        raise typer.BadParameter(f"{option}: give 1 to 100 finite numbers")
    return values


@plot_app.command("optimizers")
@user_errors
def plot_optimizers(
    out: OutOption = None,
    force: ForceOption = False,
    lr: Annotated[float, typer.Option("--lr", min=1e-6, max=10, help="Learning rate for every optimizer.")] = 0.05,
    steps: Annotated[int, typer.Option("--steps", min=1, max=10_000, help="Steps per optimizer.")] = 120,
    start: Annotated[str, typer.Option("--start", help="Start point x,y, or random (seeded by --seed; the "
                                       "lecture's).")] = "1.0,0.001",
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**32 - 1, help="Seed of --start random.")] = 0,
    function: Annotated[str, typer.Option("--function", help="saddle (x² - y²), bowl (x² + 10y²) or rosenbrock.")]
    = "saddle",
    optimizer: Annotated[Optional[list[str]], typer.Option("--optimizer", help="Only these (repeatable): sgd "
                                                           "(plain gradient descent), momentum, rmsprop, adam.")] = None,
    animate: Annotated[bool, typer.Option("--animate", help="Also write a GIF of the paths growing (.gif beside "
                                          "the PNG).")] = False,
) -> None:
    """Gradient descent, with momentum, RMSprop and Adam from the same start on a surface (default: the saddle
    f(x, y) = x^2 - y^2)."""
    from nnintro.commands.plot import FUNCTIONS, LIMIT, OPTIMIZERS, random_start
    from nnintro.commands.plot import plot_optimizers as draw

    if function not in FUNCTIONS:
        raise typer.BadParameter(f"--function: '{function}' (valid: {', '.join(FUNCTIONS)})")
    for name in optimizer or []:
        if name not in OPTIMIZERS:
            raise typer.BadParameter(f"--optimizer: '{name}' (valid: {', '.join(OPTIMIZERS)})")
    point = random_start(seed) if start == "random" else _numbers(start, "--start")
    if len(point) != 2 or max(abs(v) for v in point) > LIMIT:
        raise typer.BadParameter(f"--start: give x,y inside the picture, each between -{LIMIT} and {LIMIT}, "
                                 f"or random")
    paths = draw(_picture_path(out, "optimizers.png", force, (".gif",) if animate else ()), lr, steps,
                 (point[0], point[1]), function,
                 list(dict.fromkeys(optimizer or [])), animate)
    for path in paths:
        console.print(f"wrote {path}", highlight=False)


@plot_app.command("softmax")
@user_errors
def plot_softmax(
    logits: Annotated[str, typer.Option("--logits", help="The logit vector, e.g. 2,1,0.1.")] = "2,1,0.1",
    temperature: Annotated[float, typer.Option("--temperature", min=1e-3, max=1e3,
                                               help="Divide the logits by this first.")] = 1.0,
    out: OutOption = None,
    force: ForceOption = False,
) -> None:
    """A logit vector and its softmax probabilities, side by side."""
    from nnintro.commands.plot import plot_softmax as draw

    path = draw(_picture_path(out, "softmax.png", force), _numbers(logits, "--logits"), temperature)
    console.print(f"wrote {path}", highlight=False)


def main() -> None:
    """The program: a Ctrl-C is exit 130. (Called in-process, e.g. by a test runner, the KeyboardInterrupt goes on
    to the caller, after the run is saved, so the runner stops as its user asked.)"""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
