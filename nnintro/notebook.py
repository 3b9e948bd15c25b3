"""nnintro from Python and Jupyter: the functions the CLI calls, behind a small object that notebooks display.

    import nnintro
    run = nnintro.train("digits_mlp", epochs=5, lr=0.01)     # or overrides={"optimizer.lr": 0.01}
    run.metrics["test"], run.history                           # numbers; a DataFrame of the epochs
    run.plot_curves()                                          # matplotlib figures display inline
    run.picture("confusion_matrix")                            # any picture of the run folder, inline
    run.predict(images)                                        # files, arrays or (for tables) a DataFrame
    model, (x, y) = run.model(), run.split("test")             # the torch module and a split's tensors
    again = nnintro.load(run.path)
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnintro.config import Config, leaf_paths, load_config, override_text
from nnintro.errors import ConfigError
from nnintro.files import read_json
from nnintro.run_folder.layout import CONFIG_FILE, METRICS_FILE, read_history
from nnintro.run_folder.run import Run, open_run


def _overrides(overrides: dict[str, Any] | None, settings: dict[str, Any]) -> list[str]:
    """Python values as --set assignments; a short name (epochs, lr) stands for the one field it ends."""
    leaves = leaf_paths(Config)
    texts = [override_text(key, value) for key, value in (overrides or {}).items()]
    for name, value in settings.items():
        if "." in name or name in leaves.get(name, []):
            texts.append(override_text(name, value))
            continue
        matches = leaves.get(name, [])
        if not matches:
            close = difflib.get_close_matches(name, leaves, n=1)
            suggestion = f"; did you mean {close[0]}= ({', '.join(leaves[close[0]])})?" if close else ""
            raise ConfigError(f"{name}=: no field of the config ends in '{name}'{suggestion}")
        if len(matches) != 1:
            raise ConfigError(f"{name}=: {len(matches)} fields ({', '.join(matches)}) of the config end in '{name}'; "
                              f"give the full name, e.g. overrides={{'{matches[0]}': ...}}")
        texts.append(override_text(matches[0], value))
    return texts


class Metrics(dict):
    """A split's metrics: a plain dict, shown as a table in a notebook."""

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{key}</td><td>{value:.6g}</td></tr>" if isinstance(value, float) else
                       f"<tr><td>{key}</td><td>{value}</td></tr>" for key, value in self.items()
                       if not isinstance(value, (dict, list)))
        return f"<table><tr><th>metric</th><th>value</th></tr>{rows}</table>"


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

    def evaluate(self, split: str = "test") -> Metrics:
        """Like `nnintro eval`: the split's metrics (a dict that a notebook shows as a table), pictures written
        under RUN/eval/<split>/."""
        from nnintro.commands.evaluate import evaluate

        return Metrics(evaluate(self.path, split).metrics)

    @property
    def pictures(self) -> list[str]:
        """The names of the run's pictures, for picture()."""
        return sorted(p.stem for p in self.path.glob("*.png"))

    def picture(self, name: str = "curves") -> Any:
        """One of the run's pictures (confusion_matrix, probabilities, top_losses, ...), displayed inline."""
        path = self.path / f"{name.removesuffix('.png')}.png"
        if not path.is_file():
            from nnintro.errors import InputError

            close = difflib.get_close_matches(name, self.pictures, n=1)
            raise InputError(f"{path}: no such picture{f'; did you mean {close[0]!r}?' if close else ''} "
                             f"(this run has: {', '.join(self.pictures) or 'none'})")
        try:
            from IPython.display import Image
        except ImportError:  # outside IPython there is nothing to display it: the file is the picture
            return path
        return Image(filename=str(path))

    def predict(self, inputs: Any, top_k: int = 3) -> list[dict[str, Any]]:
        """Image files, an array (one input, or a batch with the model's input shape), or a DataFrame of rows
        for a table run; one prediction per input, as `nnintro predict --json` gives them."""
        from nnintro.commands.predict import predict
        from nnintro.inference.predictor import Predictor

        if isinstance(inputs, (str, Path)) or (isinstance(inputs, list) and all(isinstance(i, (str, Path))
                                                                                 for i in inputs)):
            files = [inputs] if isinstance(inputs, (str, Path)) else inputs
            return predict(self.path, [str(f) for f in files], top_k)
        predictor = Predictor(self.run)
        return predictor.frame(inputs, top_k) if hasattr(inputs, "to_csv") else predictor.array(inputs, top_k)

    def model(self) -> Any:
        """The trained model as a torch module in eval mode: raw inputs (uint8 images, feature rows) in, one row
        of outputs (logits, or predictions in the targets' units) per sample out."""
        from nnintro.run_folder.checkpoint import load_model

        return load_model(self.run)

    def split(self, name: str = "test") -> tuple[Any, Any]:
        """The inputs and targets of one of the run's splits (train, val, test), as the run saw them."""
        from nnintro.datasets import load_dataset

        if name not in ("train", "val", "test"):
            raise ConfigError(f"split {name!r}: must be train, val or test")
        config = self.config
        chosen = getattr(load_dataset(config.data, config.seed), name)
        return chosen.x, chosen.y

    def plot_curves(self) -> Any:
        """Loss and the task's running metric per epoch (the run's curves.png, as a figure)."""
        from nnintro.reports.plots import curves_figure

        m = self.metrics
        history = self.history
        rows = history.reset_index().to_dict("records") if hasattr(history, "reset_index") else history
        import matplotlib.pyplot as plt

        figure = curves_figure(rows, m["best_epoch"], m["stopped_early"], self.path.name, self.run.task.running_metric)
        plt.close(figure)  # shown once, as the cell's value, not again by the inline backend at the cell's end
        return figure

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
    from nnintro.reports.summary import print_summary

    resolved = load_config(config, _overrides(overrides, settings))
    console = Console(soft_wrap=True)
    result = train_run(resolved, runs_dir, console)
    print_summary(result.metrics, result.run_dir, console, console,
                  next_steps="next: run.evaluate(), run.plot_curves(), run.picture(name) for one of "
                             f"{', '.join(load(result.run_dir).pictures) or 'its pictures'}")
    return load(result.run_dir)


def load(run_dir: str | Path) -> TrainedRun:
    """An existing run folder."""
    return TrainedRun(open_run(run_dir))
