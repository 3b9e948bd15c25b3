"""The run directory: its file names, creating it (never reusing one), its lock, and finding runs.

A run holds config.yaml, model.json, model.safetensors (best weights), checkpoint.safetensors (last
epoch, for --resume), history.csv, metrics.json and TensorBoard event files.
"""
from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nnintro.errors import RunError
from nnintro.files import TEMP_SUFFIX, read_json

CONFIG_FILE, MODEL_FILE, WEIGHTS_FILE = "config.yaml", "model.json", "model.safetensors"
CHECKPOINT_FILE, HISTORY_FILE, METRICS_FILE = "checkpoint.safetensors", "history.csv", "metrics.json"
STEPS_FILE = "steps.csv"  # every training step's loss: the per-iteration curve
LOCK_FILE, SPLITS_FILE = ".lock", "splits.csv"
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}"  # a run or sweep name: it names a folder


@contextmanager
def locked_run(run_dir: Path) -> Iterator[None]:
    """Hold the run folder for this process: a second writer (two --resume of one run) is refused. The lock is
    filelock's (fcntl on POSIX, msvcrt on Windows: students' laptops). Temporary files that a killed writer left
    behind are removed once the lock is ours."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(run_dir / LOCK_FILE), timeout=0)
    try:
        lock.acquire()
    except Timeout as err:
        raise RunError(f"{run_dir}: another nnintro process is writing this run; wait for it to finish") from err
    except OSError as err:
        raise RunError(f"{run_dir}: cannot write in this run folder ({err.strerror or err})") from err
    try:
        for leftover in run_dir.glob(f".*{TEMP_SUFFIX}"):
            leftover.unlink(missing_ok=True)
        yield
    finally:
        lock.release()


def read_history(run_dir: Path) -> list[dict[str, float]]:
    """history.csv as one dict per epoch: epoch a whole number, every metric a float."""
    path = run_dir / HISTORY_FILE
    try:
        with path.open(newline="") as handle:
            return [{k: int(v) if k == "epoch" else float(v) for k, v in row.items()} for row in csv.DictReader(handle)]
    except (OSError, ValueError, TypeError) as err:
        raise RunError(f"{path}: not a readable history ({err})") from err


def read_steps(run_dir: Path, through_epoch: int | None = None) -> list[dict[str, float]]:
    """steps.csv as one dict per training step (epoch, step, loss); [] when the run has none (older runs).
    through_epoch: only the steps of the epochs a checkpoint holds."""
    path = run_dir / STEPS_FILE
    if not path.is_file():
        return []
    try:
        with path.open(newline="") as handle:
            rows = [{"epoch": int(r["epoch"]), "step": int(r["step"]), "loss": float(r["loss"])}
                    for r in csv.DictReader(handle)]
    except (OSError, ValueError, TypeError, KeyError) as err:
        raise RunError(f"{path}: not a readable step log ({err})") from err
    return [r for r in rows if through_epoch is None or r["epoch"] <= through_epoch]


def create_run_dir(runs_root: str | Path, name: str) -> Path:
    """runs/<name>-<YYYYmmdd-HHMMSS>[-N]/, created with mkdir so two processes never get the same one."""
    root = Path(runs_root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunError(f"cannot create runs folder {root}: {err.strerror or err}; pass another with --runs-dir") from err
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for attempt in range(1, 1000):
        candidate = root / (f"{name}-{stamp}" if attempt == 1 else f"{name}-{stamp}-{attempt}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
        except OSError as err:
            raise RunError(f"cannot create run folder in {root}: {err.strerror or err}; pass another with --runs-dir") from err
    raise RunError(f"too many runs named {name}-{stamp} in {root}")


def is_report_folder(path: Path) -> bool:
    """A folder nnintro writes beside the runs: compare's and lr-find's."""
    return (path / "compare.md").is_file() or (path / "lr_find.csv").is_file()


def is_run(path: Path) -> bool:
    return (path / MODEL_FILE).is_file() and (path / CONFIG_FILE).is_file()


def never_started(path: Path) -> bool:
    """A run folder stopped (killed) before its first checkpoint: its config is there, nothing to resume."""
    return ((path / CONFIG_FILE).is_file() and not (path / CHECKPOINT_FILE).is_file()
            and not is_report_folder(path) and not (path / "summary.md").is_file())


def newest_run(runs_root: str | Path) -> Path:
    root = Path(runs_root)
    runs = [p for p in root.glob("**/") if p != root and is_run(p)] if root.is_dir() else []
    if not runs:
        raise RunError(f"no runs found under {root}/; train one with `nnintro train` or name a run folder")
    return max(runs, key=lambda p: (p / MODEL_FILE).stat().st_mtime)


FINISHED = ("completed", "stopped_early")


def find_finished_run(config: dict[str, Any], runs_root: Path) -> Path | None:
    """The newest finished run under runs_root whose resolved config is exactly this one."""
    import yaml

    matches = []
    for config_path in runs_root.glob(f"**/{CONFIG_FILE}") if runs_root.is_dir() else []:
        try:
            finished = (yaml.safe_load(config_path.read_text()) == config
                        and read_json(config_path.parent / METRICS_FILE).get("status") in FINISHED)
        except Exception:  # noqa: BLE001 - an unreadable old run is simply not a match
            continue
        if finished:
            matches.append(config_path.parent)
    return max(matches, key=lambda p: p.stat().st_mtime) if matches else None


