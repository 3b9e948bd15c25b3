"""Console output while training: a Rich progress bar on a terminal, one plain line per epoch elsewhere."""
from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

SHORT = {"accuracy": "acc"}


def epoch_line(row: dict[str, float], epochs: int) -> str:
    """'epoch   3/30  train loss 0.31 acc 0.91  val loss 0.29 acc 0.92 ...': whatever metrics the task reports."""
    def split(name: str) -> str:
        values = [(key.split("/", 1)[1], value) for key, value in row.items() if key.startswith(f"{name}/")]
        return f"{name} " + " ".join(f"{SHORT.get(metric, metric)} {value:.4f}" if abs(value) < 1e4 else
                                     f"{SHORT.get(metric, metric)} {value:.5g}" for metric, value in values)

    return (f"epoch {int(row['epoch']):>3}/{epochs}  {split('train')}  {split('val')}"
            f"  lr {row['lr']:.3g}  {row['epoch_seconds']:.2f}s")


class ConsoleObserver:
    def __init__(self, console: Console, epochs: int) -> None:
        self.console = console
        self.epochs = epochs
        self.progress: Progress | None = None
        self.task = None
        if console.is_terminal:
            # no refresh thread: the trainer calls on_step a few times a second and we redraw then, so
            # drawing never competes with training for the interpreter
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), console=console, transient=True, auto_refresh=False)
            self.progress.start()
            self.task = self.progress.add_task("starting", total=None)

    def on_step(self, epoch: int, step: int, steps: int, loss: float) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=step, total=steps,
                                 description=f"epoch {epoch}/{self.epochs}  loss {loss:.4f}", refresh=True)

    def on_epoch_end(self, row: dict[str, float]) -> None:
        self.console.print(epoch_line(row, self.epochs), highlight=False, soft_wrap=True)

    def on_warning(self, message: str) -> None:
        self.console.print(f"warning: {message}", style="yellow", highlight=False, markup=False)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
