"""The tasks nnintro trains for: the registry, and rebuilding a run's task from its model.json."""
from __future__ import annotations

from typing import Any

from nnintro.tasks.base import SplitOutputs, Task
from nnintro.tasks.classification import Classification
from nnintro.tasks.regression import Regression

TASKS: dict[str, type[Task]] = {"classification": Classification, "regression": Regression}
ALL_LOSSES = sorted({name for task in TASKS.values() for name in task.losses})
ALL_MONITORS = sorted({f"val_{m}" for task in TASKS.values() for m in task.higher_is_better})


def task_from_info(model_info: dict[str, Any]) -> Task:
    """The task a saved run was trained for (runs from before tasks existed are classification)."""
    name = model_info.get("task", "classification")
    if name == "regression":
        scale = model_info["architecture"]["target_scale"]
        return Regression(model_info["targets"], scale["mean"], scale["std"])
    return Classification(model_info["classes"])


__all__ = ["ALL_LOSSES", "ALL_MONITORS", "TASKS", "Classification", "Regression", "SplitOutputs", "Task",
           "task_from_info"]
