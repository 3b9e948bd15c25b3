"""A run folder read back: open_run checks that model.json can rebuild the model and its task, and Run answers
what the other commands ask of a run."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnintro.errors import RunError
from nnintro.files import read_json
from nnintro.run_folder.layout import CONFIG_FILE, MODEL_FILE, is_run, newest_run


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
    from nnintro.models.layers import upgrade_architecture

    run_path = newest_run(runs_root) if path is None else Path(path)
    if not run_path.is_dir():
        raise RunError(f"{run_path}: no such run folder")
    if not is_run(run_path):
        raise RunError(f"{run_path}: not a run folder (no {MODEL_FILE} and {CONFIG_FILE}); runs live under runs/")
    model_info = read_json(run_path / MODEL_FILE)
    _check_model_info(run_path / MODEL_FILE, model_info)
    model_info["architecture"] = upgrade_architecture(model_info["architecture"])
    return Run(run_path, model_info)
