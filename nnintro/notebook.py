"""nnintro from Python and Jupyter: the functions the CLI calls, behind a small object that notebooks display.

    import nnintro
    run = nnintro.train("digits_mlp", epochs=5, lr=0.01)     # or overrides={"optimizer.lr": 0.01}
    run.metrics["test"], run.history                           # numbers; a DataFrame of the epochs
    run.plot_curves()                                          # matplotlib figures display inline
    run.predict(images)                                        # files, arrays or (for tables) a DataFrame
    again = nnintro.load(run.path)
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnintro.config import Config, leaf_paths, load_config, override_text
from nnintro.errors import ConfigError
from nnintro.files import read_json
from nnintro.runs.folder import CONFIG_FILE, METRICS_FILE, read_history
from nnintro.runs.run import Run, open_run


def _overrides(overrides: dict[str, Any] | None, settings: dict[str, Any]) -> list[str]:
    """Python values as --set assignments; a short name (epochs, lr) stands for the one field it ends."""
    leaves = leaf_paths(Config)
    texts = [override_text(key, value) for key, value in (overrides or {}).items()]
    for name, value in settings.items():
        if "." in name or name in leaves.get(name, []):
            texts.append(override_text(name, value))
            continue
        matches = leaves.get(name, [])
        if len(matches) != 1:
            known = "no field" if not matches else f"{len(matches)} fields ({', '.join(matches)})"
            raise ConfigError(f"{name}=: {known} of the config end in '{name}'; give the full name, "
                              f"e.g. overrides={{'{matches[0] if matches else 'optimizer.lr'}': ...}}")
        texts.append(override_text(matches[0], value))
    return texts


@dataclass
class TrainedRun:
    """A run folder seen from Python: its numbers, its model, and figures to display."""

    run: Run

    @property
    def path(self) -> Path:
        return self.run.path

    @property
    def metrics(self) -> dict[str, Any]:
        return read_json(self.path / METRICS_FILE)

    @property
    def config(self) -> Config:
        return load_config(str(self.path / CONFIG_FILE))

    @property
    def history(self) -> Any:
        """One row per epoch: a pandas DataFrame when pandas is installed, else a list of dicts."""
        rows = read_history(self.path)
        try:
            import pandas as pd
        except ImportError:
            return rows
        return pd.DataFrame(rows).set_index("epoch") if rows else pd.DataFrame()

    def evaluate(self, split: str = "test") -> dict[str, Any]:
        from nnintro.commands.evaluate import evaluate

        return evaluate(self.path, split).metrics

    def predict(self, inputs: Any, top_k: int = 3) -> list[dict[str, Any]]:
        """Image files, an array (one input, or a batch with the model's input shape), or a DataFrame of rows
        for a table run; one prediction per input, as `nnintro predict --json` gives them."""
        import numpy as np
        import torch

        from nnintro.commands.predict import predict
        from nnintro.runs.checkpoint import load_model

        if isinstance(inputs, (str, Path)) or (isinstance(inputs, list) and all(isinstance(i, (str, Path))
                                                                                 for i in inputs)):
            files = [inputs] if isinstance(inputs, (str, Path)) else inputs
            return predict(self.path, [str(f) for f in files], top_k)
        if hasattr(inputs, "to_csv"):  # a DataFrame of raw rows
            from nnintro.datasets.tabular import read_rows

            with tempfile.TemporaryDirectory() as folder:  # one reader for files and frames: the CSV one
                table = Path(folder) / "rows.csv"
                inputs.to_csv(table, index=False)
                x, rows = read_rows(table, self.run.model_info["inputs"])
        else:
            shape = self.run.architecture["input_shape"]
            array = np.asarray(inputs, dtype=np.float32)
            x = torch.from_numpy(array.reshape(-1, *shape) if array.size % int(np.prod(shape)) == 0 else array)
            rows = [{} for _ in range(len(x))]
        with torch.inference_mode():
            outputs = load_model(self.run)(x).float()
        return [{**row, **prediction} for row, prediction in zip(rows, self.run.task.predictions(outputs, top_k))]

    def plot_curves(self) -> Any:
        """Loss and the task's running metric per epoch (the run's curves.png, as a figure)."""
        from nnintro.reports.plots import curves_figure

        m = self.metrics
        history = self.history
        rows = history.reset_index().to_dict("records") if hasattr(history, "reset_index") else history
        return curves_figure(rows, m["best_epoch"], m["stopped_early"], self.path.name, self.run.task.running_metric)

    def _repr_markdown_(self) -> str:
        m = self.metrics
        numbers = ", ".join(f"{k} {v:.4g}" for k, v in m["test"].items() if isinstance(v, float))
        return f"**{self.path.name}** ({m['status']}, {m['epochs_run']} epochs): test {numbers}"

    def __repr__(self) -> str:
        return f"TrainedRun({str(self.path)!r})"


def train(config: str | None = None, overrides: dict[str, Any] | None = None, runs_dir: str | Path = "runs",
          **settings: Any) -> TrainedRun:
    """Train a packaged config (by name) or a YAML file, with overrides={"optimizer.lr": 0.05} and/or short
    names (epochs=3, lr=0.05, hidden=[64]); returns the finished run."""
    from rich.console import Console

    from nnintro.commands.train import train as train_run

    resolved = load_config(config, _overrides(overrides, settings))
    result = train_run(resolved, runs_dir, Console(soft_wrap=True))
    return load(result.run_dir)


def load(run_dir: str | Path) -> TrainedRun:
    """An existing run folder."""
    return TrainedRun(open_run(run_dir))
