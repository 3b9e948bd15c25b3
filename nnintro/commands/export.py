"""`nnintro export`: a run's model as ONNX, to ship a baseline without nnintro or PyTorch.

The exported graph takes raw inputs in the training data's units (pixels 0..255 as float32, table columns
as the encoded floats predict builds; NaN in a column trained with data.missing=impute is filled as predict
fills an empty cell), standardizes them itself as the saved model does, and ends in the
task's output: class probabilities, or values in the targets' units. Class or target names, the input
shape and the table's column encoding travel in the ONNX metadata.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nnintro.errors import InputError
from nnintro.files import file_mode, output_file
from nnintro.run_folder.checkpoint import load_model
from nnintro.run_folder.run import open_run
from nnintro.tasks import Task
from nnintro.version import __version__

EXTRA = 'pip install "nnintro[export]"'


class FillMissing(nn.Module):
    """data.missing=impute, inside the graph: a NaN in an imputed number becomes the training rows' median and
    sets that column's was-missing input, as predict does for an empty cell."""

    def __init__(self, columns: list[dict[str, Any]]) -> None:
        super().__init__()
        from nnintro.datasets.encoding import column_width

        width = sum(column_width(spec) for spec in columns)
        fill, imputed, flags = torch.zeros(width), torch.zeros(width, dtype=torch.bool), torch.zeros(width, width)
        start = 0
        for spec in columns:
            if spec["kind"] == "numeric" and "fill" in spec:
                fill[start], imputed[start] = float(spec["fill"]), True
                if spec.get("indicator"):
                    flags[start, start + 1] = 1.0
            start += column_width(spec)
        self.register_buffer("fill", fill)
        self.register_buffer("imputed", imputed)
        self.register_buffer("flags", flags)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        empty = torch.isnan(x) & self.imputed
        x = torch.where(empty, self.fill, x)
        return torch.where(empty.float() @ self.flags > 0, torch.ones_like(x), x)


class Exported(nn.Module):
    """The run's model followed by its task's finishing step (softmax for classes); a table run's imputed columns
    are filled first."""

    def __init__(self, model: nn.Module, task: Task, columns: list[dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.model, self.task = model, task
        self.fill = FillMissing(columns) if columns and any("fill" in spec for spec in columns) else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.task.finish(self.model(self.fill(x)).float())


def export_onnx(run_path: str | Path, out: Path | None = None, force: bool = False) -> dict[str, Any]:
    """Write RUN/model.onnx (or out) and, where onnxruntime is installed, check it against PyTorch's outputs."""
    try:
        import onnx  # noqa: F401 - the exporter needs it; say so before any work
        import onnxscript  # noqa: F401
    except ImportError as err:
        raise InputError(f"export --format onnx needs the export extra ({err.name} is missing): {EXTRA}") from err
    run = open_run(run_path)
    path = output_file(out or run.path / "model.onnx", "--out", force)
    task = run.task
    module = Exported(load_model(run), task, run.model_info.get("inputs", {}).get("columns")).eval()
    example = torch.rand(2, *run.architecture["input_shape"]) * 255
    program = torch.onnx.export(module, (example,), dynamo=True, verbose=False, input_names=["input"],
                                output_names=["probabilities" if task.name == "classification" else "predictions"],
                                dynamic_shapes=({0: torch.export.Dim("batch")},))
    metadata = {"nnintro.version": __version__, "nnintro.task": json.dumps(task.describe()),
                "nnintro.input_shape": json.dumps(run.architecture["input_shape"]),
                "nnintro.inputs": json.dumps(run.model_info.get("inputs", {})),
                "nnintro.run": run.path.name}
    program.model.metadata_props.update(metadata)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        program.save(temporary)
        os.chmod(temporary, file_mode())
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return {"path": path, "max_difference": _check(path, module, example)}


def _check(path: Path, module: nn.Module, example: torch.Tensor) -> float | None:
    """The largest difference between onnxruntime's and PyTorch's outputs on the same inputs (None: no runtime)."""
    try:
        import onnxruntime
    except ImportError:
        return None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.inference_mode():
        expected = module(example).numpy()
    got = session.run(None, {"input": example.numpy()})[0]
    return float(abs(got - expected).max())
