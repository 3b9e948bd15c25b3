"""One run's model, loaded once, predicting on files, raw table rows or arrays; every result is the object
`nnintro predict --json` prints for it."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnintro.datasets.inputs import check_array, read_inputs
from nnintro.errors import InputError
from nnintro.run_folder.checkpoint import load_model
from nnintro.run_folder.run import Run


class Predictor:
    """A run's model in inference mode (the ensemble of its members, or one member)."""

    def __init__(self, run: Run, member: int | None = None) -> None:
        self.run = run
        self.task = run.task
        self.model = load_model(run, member)

    @property
    def input_shape(self) -> list[int]:
        return self.run.architecture["input_shape"]

    def outputs(self, x: torch.Tensor) -> torch.Tensor:
        """The model's (B, width) outputs, without autograd."""
        with torch.inference_mode():
            return self.model(x).float() if len(x) else torch.empty(0, self.task.width)

    def predict(self, x: torch.Tensor, rows: list[dict[str, Any]], top_k: int,
                **fields: Any) -> tuple[list[dict[str, Any]], torch.Tensor]:
        """One result per row ({**fields, **row, **prediction}; a row with an error keeps its error and gets no
        prediction), and the outputs of the usable rows."""
        usable = [i for i, row in enumerate(rows) if "error" not in row]
        outputs = self.outputs(x[usable])
        predictions = iter(self.task.predictions(outputs, top_k))
        return [{**fields, **row, **({} if "error" in row else next(predictions))} for row in rows], outputs

    def file(self, path: Path, top_k: int = 3, invert: bool = False, center: bool = False,
             name: str | None = None) -> tuple[list[dict[str, Any]], torch.Tensor, torch.Tensor]:
        """A file's results (one per table row, else one), the inputs read and the outputs; an unreadable file
        raises InputError. name: what results call the file (default: the path as given)."""
        x, rows = read_inputs(path, self.run.model_info, invert, center)
        results, outputs = self.predict(x, rows, top_k, file=str(path) if name is None else name)
        return results, x, outputs

    def frame(self, frame: Any, top_k: int = 3) -> list[dict[str, Any]]:
        """Raw table rows (a pandas DataFrame), read by the same CSV reader predict uses for a file."""
        from nnintro.datasets.tabular import read_rows

        with tempfile.TemporaryDirectory() as folder:
            table = Path(folder) / "rows.csv"
            frame.to_csv(table, index=False)
            x, rows = read_rows(table, self.run.model_info["inputs"])
        return self.predict(x, rows, top_k)[0]

    def array(self, values: Any, top_k: int = 3) -> list[dict[str, Any]]:
        """One input or a batch with the model's input shape, in the raw units of the training data."""
        shape = self.input_shape
        try:
            with np.errstate(over="ignore"):  # a value beyond float32 becomes inf, refused below
                array = np.asarray(values, dtype=np.float32)
        except (TypeError, ValueError) as err:
            raise InputError(f"the input must be numbers in the model's input shape {shape} ({err})") from err
        if array.size == 0 or array.size % int(np.prod(shape)):
            raise InputError(f"an array of shape {list(array.shape)} does not fit the model's input {shape}")
        batch = array.reshape(-1, *shape)
        x = torch.from_numpy(np.stack([check_array(item, shape, "the array") for item in batch]))
        return self.predict(x, [{} for _ in range(len(x))], top_k)[0]
