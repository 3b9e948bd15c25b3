"""`nnintro predict`: a run's model on the user's files, one result per image or table row; a file or row that
cannot be used gets an error and the others go on."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from nnintro.errors import InputError
from nnintro.files import output_file
from nnintro.run_folder.run import Run, open_run

MAX_DRAWN = 24  # predict --plot draws the first this many images: a figure of thousands helps no one


def predict(run_path: str | Path | None, files: list[str], top_k: int = 3, invert: bool = False,
            runs_root: str | Path = "runs", plot: Path | None = None, force: bool = False,
            center: bool = False, member: int | None = None) -> list[dict[str, Any]]:
    """Predict with a run's model. Image runs take image (or .npy) files, one result per file; table runs
    take CSV files, one result per row ({"file", "row", "prediction", ...}). A file or row that cannot be
    used gets {"file", "error"} and the others go on. plot: also draw each image beside its class
    probabilities; an existing file there is replaced only with force."""
    from nnintro.inference.predictor import Predictor

    if plot is not None:
        output_file(plot, "--plot", force)
    run = open_run(run_path, runs_root)
    if plot is not None and run.model_info.get("data_kind") != "image":  # said before any work, not after
        raise InputError(f"--plot {plot}: this run's model does not take images; nothing to draw")
    predictor = Predictor(run, member)
    results: list[dict[str, Any]] = []
    drawn: list[tuple[str, torch.Tensor, torch.Tensor]] = []
    for file in files:
        try:
            found, x, outputs = predictor.file(Path(file), top_k, invert, center, name=file)
        except InputError as err:
            results.append({"file": file, "error": str(err)})
            continue
        results += found
        if run.model_info.get("data_kind") == "image" and len(outputs):
            drawn.append((file, x[0], torch.softmax(outputs[0], 0)))
    if plot is not None and drawn:
        _plot_predictions(run, drawn[:MAX_DRAWN], plot)
    return results


def _plot_predictions(run: Run, drawn: list[tuple[str, torch.Tensor, torch.Tensor]], path: Path) -> None:
    from nnintro.reports.plots import probabilities_figure, save_figure

    images = torch.stack([x for _, x, _ in drawn]).numpy()
    probabilities = torch.stack([p for _, _, p in drawn]).numpy()
    titles = [Path(file).name for file, _, _ in drawn]
    figure = probabilities_figure(images, run.architecture["normalization"]["scale"], probabilities, run.task.classes,
                                  [None] * len(drawn), titles)
    save_figure(figure, path)
