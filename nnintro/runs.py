"""The run directory: create it (never reusing one), find the newest, and read/write its files atomically.

A run holds config.yaml, model.json, model.safetensors (best weights), checkpoint.safetensors (last
epoch, for --resume), history.csv, metrics.json and TensorBoard event files.
"""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnintro.errors import RunError

CONFIG_FILE, MODEL_FILE, WEIGHTS_FILE = "config.yaml", "model.json", "model.safetensors"
CHECKPOINT_FILE, HISTORY_FILE, METRICS_FILE = "checkpoint.safetensors", "history.csv", "metrics.json"


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write to a temp file in the same folder, fsync, rename: readers see the old file or the new one."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def write_json(path: Path, value: Any) -> None:
    write_atomic(path, json.dumps(value, indent=2) + "\n")


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


def unused_path(path: Path) -> Path:
    """path, or path-2, path-3, ... : a default output name never replaces a file the user has."""
    candidate, number = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
        number += 1
    return candidate


def is_run(path: Path) -> bool:
    return (path / MODEL_FILE).is_file() and (path / CONFIG_FILE).is_file()


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
    model_info: dict[str, Any]  # model.json: architecture, classes, dataset kind

    @property
    def architecture(self) -> dict[str, Any]:
        return self.model_info["architecture"]

    @property
    def classes(self) -> list[str]:
        return self.model_info["classes"]

    def metrics(self) -> dict[str, Any]:
        return read_json(self.path / METRICS_FILE)


def open_run(path: str | Path | None, runs_root: str | Path = "runs") -> Run:
    """Open the run at path (default: the newest under runs_root), checking it is one."""
    run_path = newest_run(runs_root) if path is None else Path(path)
    if not run_path.is_dir():
        raise RunError(f"{run_path}: no such run folder")
    if not is_run(run_path):
        raise RunError(f"{run_path}: not a run folder (no {MODEL_FILE} and {CONFIG_FILE}); runs live under runs/")
    model_info = read_json(run_path / MODEL_FILE)
    required = {"architecture", "classes"}
    if not isinstance(model_info, dict) or not required <= set(model_info):
        raise RunError(f"{run_path / MODEL_FILE}: missing {', '.join(sorted(required))}")
    classes = model_info["classes"]
    if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) for c in classes):
        raise RunError(f"{run_path / MODEL_FILE}: classes must be a list of at least two names")
    return Run(run_path, model_info)
