"""The run directory: create it (never reusing one), find the newest, and read/write its files atomically.

A run holds config.yaml, model.json, model.safetensors (best weights), checkpoint.safetensors (last
epoch, for --resume), history.csv, metrics.json and TensorBoard event files.
"""
from __future__ import annotations

import csv
import fcntl
import io
import json
import math
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnintro.errors import STORAGE_ERRNOS, InputError, RunError, storage_error

CONFIG_FILE, MODEL_FILE, WEIGHTS_FILE = "config.yaml", "model.json", "model.safetensors"
CHECKPOINT_FILE, HISTORY_FILE, METRICS_FILE = "checkpoint.safetensors", "history.csv", "metrics.json"
LOCK_FILE, SPLITS_FILE = ".lock", "splits.csv"
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}"  # a run or sweep name: it names a folder
TEMP_SUFFIX = ".tmp"


def file_mode() -> int:
    """What open() would give a new file under the user's umask (mkstemp alone gives 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write to a temp file in the same folder, fsync, rename: readers see the old file or the new one."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    except OSError as err:
        if err.errno in STORAGE_ERRNOS:
            raise storage_error(err, path) from err
        raise
    try:
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException as err:
        Path(tmp_name).unlink(missing_ok=True)
        if isinstance(err, OSError) and err.errno in STORAGE_ERRNOS:
            raise storage_error(err, path) from err
        raise


def strict_json(value: Any) -> Any:
    """value with NaN and infinities as None, so that json.dumps writes strict JSON (no NaN tokens)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    return value


def dumps_json(value: Any) -> str:
    return json.dumps(strict_json(value), indent=2, allow_nan=False) + "\n"


def write_json(path: Path, value: Any) -> None:
    write_atomic(path, dumps_json(value))


def output_file(path: Path, option: str, force: bool = False) -> Path:
    """Check a file the user asked us to write: its folder exists and is writable, and an existing file is
    replaced only with force. The one rule for every output option (--plot, --md, --out)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{option} {path}: is a folder; name a file inside it")
    if path.exists() and not force:
        raise InputError(f"{option} {path}: already exists; choose another name, or add --force to replace it")
    folder = path.parent
    if not folder.is_dir():
        raise InputError(f"{option} {path}: folder {folder} does not exist; create it first or choose another path")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: folder {folder} is not writable; choose another path")
    return path


def output_folder(path: Path, option: str) -> Path:
    """A folder we may create files in (created if missing); a file in the way or no permission is one line."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"{option} {path}: cannot create this folder ({err.strerror or err})") from err
    if not os.access(path, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: folder is not writable; choose another")
    return path


@contextmanager
def locked_run(run_dir: Path) -> Iterator[None]:
    """Hold the run folder for this process: a second writer (two --resume of one run) is refused.
    Temporary files that a killed writer left behind are removed once the lock is ours."""
    try:
        handle = (run_dir / LOCK_FILE).open("a")
    except OSError as err:
        raise RunError(f"{run_dir}: cannot write in this run folder ({err.strerror or err})") from err
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            raise RunError(f"{run_dir}: another nnintro process is writing this run; wait for it to finish") from err
        for leftover in run_dir.glob(f".*{TEMP_SUFFIX}"):
            leftover.unlink(missing_ok=True)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise RunError(f"{path}: missing") from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunError(f"{path}: not readable JSON ({err})") from err


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    write_atomic(path, buffer.getvalue())


def read_history(run_dir: Path) -> list[dict[str, float]]:
    """history.csv as one dict per epoch: epoch a whole number, every metric a float."""
    path = run_dir / HISTORY_FILE
    try:
        with path.open(newline="") as handle:
            return [{k: int(v) if k == "epoch" else float(v) for k, v in row.items()} for row in csv.DictReader(handle)]
    except (OSError, ValueError, TypeError) as err:
        raise RunError(f"{path}: not a readable history ({err})") from err


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


def unused_path(path: Path, companions: tuple[str, ...] = ()) -> Path:
    """path, or path-2, path-3, ... : a default output name never replaces a file the user has (nor, with
    companions such as (".gif",), the files of the same name with those suffixes written beside it)."""
    candidate, number = path, 2
    while any(p.exists() for p in (candidate, *(candidate.with_suffix(suffix) for suffix in companions))):
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
        number += 1
    return candidate


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


@dataclass
class Run:
    """A finished (or interrupted) run, read back from its folder."""

    path: Path
    model_info: dict[str, Any]  # model.json: architecture, task, dataset kind, input columns

    @property
    def architecture(self) -> dict[str, Any]:
        return self.model_info["architecture"]

    @property
    def task(self) -> Any:
        from nnintro.tasks import task_from_info

        return task_from_info(self.model_info)


def _check_model_info(path: Path, info: Any) -> None:
    """model.json holds what task_from_info needs: a list of class names, or of target names with their scale."""
    if not isinstance(info, dict) or "architecture" not in info or not isinstance(info["architecture"], dict):
        raise RunError(f"{path}: missing architecture")
    names_key = "targets" if info.get("task") == "regression" else "classes"
    names = info.get(names_key)
    least = 1 if names_key == "targets" else 2
    if not isinstance(names, list) or len(names) < least or not all(isinstance(c, str) for c in names):
        raise RunError(f"{path}: {names_key} must be a list of at least {least} names")
    if names_key == "targets":
        scale = info["architecture"].get("target_scale")
        if not (isinstance(scale, dict) and all(isinstance(scale.get(k), list) and len(scale[k]) == len(names)
                                                for k in ("mean", "std"))):
            raise RunError(f"{path}: architecture.target_scale needs a mean and a std per target")


def open_run(path: str | Path | None, runs_root: str | Path = "runs") -> Run:
    """Open the run at path (default: the newest under runs_root), checking it is one."""
    from nnintro.models import upgrade_architecture

    run_path = newest_run(runs_root) if path is None else Path(path)
    if not run_path.is_dir():
        raise RunError(f"{run_path}: no such run folder")
    if not is_run(run_path):
        raise RunError(f"{run_path}: not a run folder (no {MODEL_FILE} and {CONFIG_FILE}); runs live under runs/")
    model_info = read_json(run_path / MODEL_FILE)
    _check_model_info(run_path / MODEL_FILE, model_info)
    model_info["architecture"] = upgrade_architecture(model_info["architecture"])
    return Run(run_path, model_info)
