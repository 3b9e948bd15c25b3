"""`nnintro serve`: trained runs loaded once and answering inputs, for the web face (nnintro/web). Each answer is
the object `nnintro predict --json` prints for the same input; nothing here writes to a run folder."""
from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nnintro.errors import InputError, NnintroError
from nnintro.files import read_json
from nnintro.inference.predictor import Predictor
from nnintro.models.layers import describe as describe_architecture
from nnintro.run_folder.layout import METRICS_FILE
from nnintro.run_folder.run import Run, open_run

TABLE_SUFFIXES = {".csv", ".tsv", ".txt"}
PLANE_STEPS = 61  # the page's picture of a 2-D model: a 61 x 61 grid over the Playground's square


class UnknownRun(NnintroError):
    """A request named a run that is not served."""


@dataclass
class Served:
    """One served run: its name in URLs, the run and its loaded model."""

    name: str
    run: Run
    predictor: Predictor
    description: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.run.model_info.get("data_kind", "image")


def load_runs(paths: list[Path]) -> dict[str, Served]:
    """Each run folder opened and its model loaded; the URL name is the folder's name (a second folder of the
    same name gets -2, -3, ...)."""
    if not paths:
        raise InputError("serve: give at least one run folder (e.g. nnintro serve runs/digits_mlp-...)")
    served: dict[str, Served] = {}
    for path in paths:
        run = open_run(path)
        name, number = run.path.name, 2
        while name in served:
            name, number = f"{run.path.name}-{number}", number + 1
        item = Served(name, run, Predictor(run))
        item.description = describe(item)
        served[name] = item
    return served


def find(served: dict[str, Served], name: str) -> Served:
    if name not in served:
        raise UnknownRun(f"no served run named '{name}' (served: {', '.join(served)})")
    return served[name]


def describe(item: Served) -> dict[str, Any]:
    """What GET /runs says of a run: enough for a page to build its input and show what the model is."""
    info, task = item.run.model_info, item.predictor.task
    architecture = item.run.architecture
    described: dict[str, Any] = {
        "name": item.name, "dataset": info.get("dataset"), "data_kind": item.kind, "task": task.name,
        "model": describe_architecture(architecture),
        "params": info.get("params"), **task.describe(), "test": _test_metric(item.run, task.headline),
        "input": INPUTS[item.kind](item.run)}
    scale = architecture.get("target_scale")
    if scale:  # regression: what the training targets were like, so an answer can be read in their terms
        described["target_training"] = {"mean": scale["mean"], "std": scale["std"]}
    return described


def _test_metric(run: Run, headline: str) -> dict[str, Any] | None:
    metrics_file = run.path / METRICS_FILE
    try:
        value = read_json(metrics_file).get("test", {}).get(headline) if metrics_file.is_file() else None
    except NnintroError:
        value = None
    return {"metric": headline, "value": value} if isinstance(value, (int, float)) else None


def _image_input(run: Run) -> dict[str, Any]:
    channels, height, width = run.architecture["input_shape"]
    return {"kind": "image", "channels": channels, "height": height, "width": width,
            "centered_by_default": channels == 1,
            "text": f"{'gray' if channels == 1 else 'colour'} image, resized to {width}x{height}"}


def _table_input(run: Run) -> dict[str, Any]:
    """One field per input column; its starting value is the training rows' mean (numbers) or most common
    category, read back from the standardization the model carries."""
    from nnintro.datasets.encoding import input_names, levels

    means = run.architecture["normalization"]["mean"]
    columns, position = [], 0
    for spec in run.model_info["inputs"]["columns"]:
        width = len(input_names(spec))
        column: dict[str, Any] = {"name": spec["name"], "kind": spec["kind"]}
        if spec["kind"] == "category":
            column["choices"] = levels(spec)
            shares = means[position:position + len(column["choices"])]
            column["example"] = column["choices"][int(np.argmax(shares))]
        elif spec["kind"] == "numeric":
            column["example"] = float(f"{means[position]:.4g}")
        elif spec.get("fill") is not None:
            column["example"] = spec["fill"]
        columns.append(column)
        position += width
    return {"kind": "table", "columns": columns, "text": f"a table row of {len(columns)} columns"}


def _points_input(run: Run) -> dict[str, Any]:
    from nnintro.reports.classification import GRID_LIMIT

    return {"kind": "points", "limit": GRID_LIMIT, "text": f"a point (x1, x2) in [-{GRID_LIMIT:g}, {GRID_LIMIT:g}]²"}


INPUTS = {"image": _image_input, "table": _table_input, "points": _points_input}


def safe_name(filename: str | None) -> str:
    """The client's file name as results show it: its last part, printable letters only; never used as a path."""
    base = re.split(r"[\\/]", filename or "")[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._ -]", "_", base).strip()[:100]
    return cleaned or "upload"


def predict_upload(item: Served, filename: str | None, content: bytes, top_k: int = 3, invert: bool = False,
                   center: bool = False, show_input: bool = False) -> list[dict[str, Any]]:
    """An uploaded file (image, .npy, or CSV for a table run), read through predict's own reader from a private
    temporary file. show_input: image results also carry "input", the picture as the model sees it (0..1)."""
    name = safe_name(filename)
    suffix = Path(name).suffix.lower()
    if item.kind == "table":
        stored = f"upload{suffix if suffix in TABLE_SUFFIXES else '.csv'}"
    else:
        stored = "upload.npy" if suffix == ".npy" else "upload.image"
    with tempfile.TemporaryDirectory(prefix="nnintro-serve-") as folder:
        path = Path(folder) / stored
        path.write_bytes(content)
        try:
            results, x, _ = item.predictor.file(path, top_k, invert, center, name=name)
        except InputError as err:
            raise InputError(str(err).replace(str(path), name)) from err
    for result in results:
        if "error" in result:
            result["error"] = result["error"].replace(str(path), name)
    if show_input and item.kind == "image" and results and "error" not in results[0]:
        scale = item.run.architecture["normalization"]["scale"]
        seen = np.clip(x[0].numpy() * scale, 0.0, 1.0)
        results[0]["input"] = np.round(seen[0] if seen.shape[0] == 1 else seen.transpose(1, 2, 0), 3).tolist()
    return results


def predict_json(item: Served, body: Any, top_k: int = 3) -> list[dict[str, Any]]:
    """A JSON body: for a table run a row ({column: value}) or a list of rows; for a 2-D run a point ([x1, x2],
    or {"x": [x1, x2]}) or a list of points; for an image run an array in the model's input shape."""
    if item.kind == "table":
        import pandas as pd

        rows = body if isinstance(body, list) else [body]
        if not rows or not all(isinstance(row, dict) for row in rows):
            raise InputError("a table run takes a JSON object {column: value, ...} or a list of them")
        for row in rows:
            wrong = [k for k, v in row.items() if not (v is None or isinstance(v, (str, int, float, bool)))]
            if wrong:
                raise InputError(f"column '{wrong[0]}': give a number, a text or null, not {type(row[wrong[0]]).__name__}")
        return item.predictor.frame(pd.DataFrame(rows), top_k)
    values = body.get("x") if isinstance(body, dict) else body
    if values is None:
        raise InputError('give the input as a JSON array (for a 2-D run [x1, x2]) or {"x": [...]}')
    results = item.predictor.array(values, top_k)
    if item.kind == "points":
        points = np.asarray(values, dtype=np.float32).reshape(-1, 2)
        results = [{"point": [float(v) for v in point], **result} for point, result in zip(points, results)]
    return results


def plane(item: Served) -> dict[str, Any]:
    """A 2-D classifier over the Playground's square: per cell (rows from the top, y = +limit) the most likely
    class and its probability, for the page's picture of the decision boundary."""
    import torch

    from nnintro.reports.classification import GRID_LIMIT, plane_points

    if item.kind != "points" or item.predictor.task.name != "classification":
        raise InputError(f"{item.name} is not a 2-D classifier (its input: {item.description['input']['text']})")
    _, _, points = plane_points(torch.device("cpu"), PLANE_STEPS)
    best, index = item.predictor.task.finish(item.predictor.outputs(points)).max(1)
    return {"limit": GRID_LIMIT, "steps": PLANE_STEPS,  # flipped: the page draws row 0 at the top
            "class": index.reshape(PLANE_STEPS, PLANE_STEPS).flip(0).tolist(),
            "probability": best.reshape(PLANE_STEPS, PLANE_STEPS).flip(0).round(decimals=3).tolist()}
