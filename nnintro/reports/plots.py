"""The course's pictures, drawn with matplotlib (headless Agg, or a notebook's inline backend) from results
(arrays), never from the trainer's internals. Each function returns a Figure; save_figure writes it atomically."""
from __future__ import annotations

import io
import math
import os
import sys
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.ticker

if "ipykernel" not in sys.modules and not os.environ.get("MPLBACKEND"):
    matplotlib.use("Agg")  # headless everywhere but a notebook, whose inline backend displays the figures
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.layout_engine import TightLayoutEngine  # noqa: E402

from nnintro.files import write_atomic  # noqa: E402

WRONG, RIGHT = "#c0392b", "#2471a3"


# Titles at y = 1, where matplotlib puts them anyway: saying so outright skips its search, at every draw, for
# tick labels above each axes (these pictures have none). With the empty axis labels below, saving a digits_mlp
# run's six pictures took 2.28-2.72 s instead of 4.14-4.43 (best and median of 5, side by side)
FIXED_TITLES = {"axes.titley": 1.0}


def subplots(*args: Any, **kwargs: Any) -> tuple[Figure, Any]:
    """plt.subplots with nnintro's settings for its axes; the user's own rcParams untouched."""
    with matplotlib.rc_context(FIXED_TITLES):
        return plt.subplots(*args, **kwargs)


def png_bytes(figure: Figure) -> bytes:
    """Render and close a figure: every picture nnintro writes goes through here. A figure laid out by `tight`
    is saved as it is; any other is cropped to its contents (bbox_inches="tight", which draws it once more)."""
    _place_empty_axis_labels(figure)
    buffer = io.BytesIO()
    laid_out = isinstance(figure.get_layout_engine(), TightLayoutEngine)
    figure.savefig(buffer, format="png", dpi=110, bbox_inches=None if laid_out else "tight")
    plt.close(figure)
    return buffer.getvalue()


def _place_empty_axis_labels(figure: Figure) -> None:
    """An axis label with no text drawn at a fixed spot: matplotlib otherwise measures every tick label of the
    axis (and of its aligned siblings) to place nothing, at each draw."""
    for axes in figure.axes:
        for axis, spot in ((axes.xaxis, (0.5, 0.0)), (axes.yaxis, (0.0, 0.5))):
            if not axis.label.get_text():
                axis.set_label_coords(*spot)


def tight(figure: Figure) -> None:
    """Lay the figure out as tight_layout does, when it is drawn: saving it then needs no cropping pass (a run's
    six usual pictures took 11-14% longer with it, best of 5)."""
    figure.set_layout_engine(TightLayoutEngine())


def save_figure(figure: Figure, path: Path) -> None:
    write_atomic(path, png_bytes(figure))


def as_display(image: np.ndarray, scale: float) -> tuple[np.ndarray, str | None]:
    """(C,H,W) raw values -> an array imshow draws, and its colour map (gray for one channel)."""
    pixels = np.clip(image.astype(np.float32) * scale, 0, 1)
    if pixels.shape[0] == 1:
        return pixels[0], "gray"
    return pixels.transpose(1, 2, 0), None


MAX_DRAWN_CLASSES = 25  # past this many classes the picture shows the classes with the most mistakes
MAX_BARS = 10  # past this many classes a probability chart shows the largest ones


def confusion_matrix_figure(counts: np.ndarray, classes: list[str], title: str) -> Figure:
    """Counts in every cell; the mistakes coloured by their share of the true class's row, the diagonal (the
    right answers) on a grey background, outside the colour scale, so the errors stand out. With many classes,
    the MAX_DRAWN_CLASSES classes most involved in mistakes (the CSV keeps them all): a picture of 1,000 x 1,000
    cells is neither readable nor affordable."""
    subset = ""
    if len(classes) > MAX_DRAWN_CLASSES:
        off = counts - np.diag(np.diag(counts))
        involved = np.argsort(-(off.sum(0) + off.sum(1)), kind="stable")[:MAX_DRAWN_CLASSES]
        chosen = np.sort(involved)
        subset = f", the {len(chosen)} of {len(classes)} classes with the most mistakes"
        counts, classes = counts[np.ix_(chosen, chosen)], [classes[i] for i in chosen]
    rows = counts.sum(1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros_like(counts, dtype=float), where=rows > 0)
    mistakes = np.ma.masked_array(share, mask=np.eye(len(classes), dtype=bool))
    size = max(5.0, 0.6 * len(classes) + 2)
    figure, axis = subplots(figsize=(size + 1, size))
    axis.imshow(np.where(np.eye(len(classes), dtype=bool), 1.0, np.nan), cmap="Greys", vmin=0, vmax=4)
    top = float(mistakes.max()) if mistakes.count() and mistakes.max() > 0 else 1.0
    image = axis.imshow(mistakes, cmap="Reds", vmin=0, vmax=top)
    figure.colorbar(image, ax=axis, label="mistakes: share of the true class", fraction=0.046, pad=0.04)
    for (row, column), count in np.ndenumerate(counts):
        if count or row == column:
            dark = row != column and share[row, column] > 0.6 * top
            axis.text(column, row, f"{count}", ha="center", va="center", fontsize=7 if len(classes) <= 12 else 5,
                      color="white" if dark else "black", fontweight="bold" if row == column else "normal")
    axis.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    axis.set_yticks(range(len(classes)), classes)
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    axis.set_title(f"{title}{subset}\n(counts; right answers on grey, mistakes coloured by their share of the row)")
    return figure


def per_class_scores(counts: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Precision, recall, F1 and support per class, their macro and weighted averages, and the accuracy, from
    the confusion counts (scikit-learn's classification_report layout, zero where a class is never predicted)."""
    true, predicted, right = counts.sum(1), counts.sum(0), np.diag(counts)
    precision = np.divide(right, predicted, out=np.zeros(len(classes)), where=predicted > 0)
    recall = np.divide(right, true, out=np.zeros(len(classes)), where=true > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros(len(classes)), where=total > 0)
    report: dict[str, Any] = {name: {"precision": float(precision[i]), "recall": float(recall[i]),
                                     "f1-score": float(f1[i]), "support": float(true[i])}
                              for i, name in enumerate(classes)}
    weights = true / max(true.sum(), 1)
    report["accuracy"] = float(right.sum() / max(true.sum(), 1))
    for label, average in (("macro avg", lambda v: float(v.mean())), ("weighted avg", lambda v: float((v * weights).sum()))):
        report[label] = {"precision": average(precision), "recall": average(recall), "f1-score": average(f1),
                         "support": float(true.sum())}
    return report


def most_confused(counts: np.ndarray, classes: list[str], k: int = 5) -> list[dict]:
    """The k largest off-diagonal cells, largest first (vectorised: 1,000 classes are a million cells)."""
    off = counts - np.diag(np.diag(counts))
    flat = np.argsort(-off, axis=None, kind="stable")[:k]
    rows = counts.sum(1)
    pairs = [(int(off.flat[i]), *divmod(int(i), len(classes))) for i in flat]
    return [{"true": classes[t], "predicted": classes[p], "count": n, "share_of_true": n / rows[t]}
            for n, t, p in pairs if n]


def probabilities_figure(images: np.ndarray, scale: float, probabilities: np.ndarray, classes: list[str],
                         labels: list[int | None], titles: list[str], heading: str = "class probabilities") -> Figure:
    """Each input next to a bar chart of its class probabilities (with many classes, the largest ones and the true
    class); wrong predictions in red."""
    n = len(probabilities)
    columns = 2 if n > 1 else 1
    rows = math.ceil(n / columns)
    figure, axes = subplots(rows, 2 * columns, figsize=(5.2 * columns, 1.9 * rows + 0.4),
                            gridspec_kw={"width_ratios": [1, 1.8] * columns}, squeeze=False)
    for index in range(rows * columns):
        image_axis, bar_axis = axes[index // columns, 2 * (index % columns)], axes[index // columns, 2 * (index % columns) + 1]
        image_axis.axis("off")
        if index >= n:
            bar_axis.axis("off")
            continue
        pixels, cmap = as_display(images[index], scale)
        image_axis.imshow(pixels, cmap=cmap, vmin=0, vmax=1)
        predicted = int(probabilities[index].argmax())
        label = labels[index]
        wrong = label is not None and predicted != label
        shown = list(range(len(classes)))
        if len(classes) > MAX_BARS:
            shown = [int(c) for c in np.argsort(-probabilities[index], kind="stable")[:MAX_BARS]]
            shown += [label] if label is not None and label not in shown else []
        colors = [WRONG if c == predicted and wrong else "#1e8449" if c == predicted else RIGHT for c in shown]
        bar_axis.barh(range(len(shown)), probabilities[index][shown], color=colors)
        bar_axis.set_yticks(range(len(shown)), [classes[c] for c in shown], fontsize=7)
        bar_axis.invert_yaxis()
        bar_axis.set_xlim(0, 1)
        bar_axis.set_xticks([0, 0.5, 1], ["0", "0.5", "1"], fontsize=7)
        truth = f"true {classes[label]}, " if label is not None else ""
        marker = "  WRONG" if wrong else ""
        image_axis.set_title(titles[index], fontsize=7)
        bar_axis.set_title(f"{truth}predicted {classes[predicted]} ({probabilities[index, predicted]:.2f}){marker}",
                           fontsize=8, color=WRONG if wrong else "black")
    figure.suptitle(heading, fontsize=10)
    tight(figure)
    return figure


def image_grid_figure(images: np.ndarray, scale: float, captions: list[str], title: str,
                      wrong: list[bool] | None = None, columns: int = 5) -> Figure:
    n = len(images)
    rows = max(1, math.ceil(n / columns))
    caption_lines = max((c.count("\n") + 1 for c in captions), default=1)
    figure, axes = subplots(rows, columns, figsize=(2.1 * columns, (2.0 + 0.2 * caption_lines) * rows + 0.3),
                            squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < n:
            pixels, cmap = as_display(images[index], scale)
            axis.imshow(pixels, cmap=cmap, vmin=0, vmax=1)
            axis.set_title(captions[index], fontsize=8, color=WRONG if wrong and wrong[index] else "black")
    figure.suptitle(title, fontsize=10)
    tight(figure)
    return figure


def curves_figure(history: list[dict], best_epoch: int, stopped_early: bool, title: str,
                  metric_name: str = "accuracy") -> Figure:
    """Loss and the task's running metric (accuracy, mae) per epoch, for training and validation. A pack's
    history (member<k>/... columns) also shows each member as a thin line and the members' mean +/- std band."""
    epochs = [row["epoch"] for row in history]
    members = sorted({key.split("/", 1)[0] for key in history[0] if key.startswith("member")})
    figure, (loss_axis, accuracy_axis) = subplots(1, 2, figsize=(10, 3.8))
    for axis, metric, label in ((loss_axis, "loss", "loss"), (accuracy_axis, metric_name, metric_name)):
        for split, colour, name in (("train", "C0", "train"), ("val", "C1", "validation")):
            mean = [row[f"{split}/{metric}"] for row in history]
            axis.plot(epochs, mean, "o-", ms=3, color=colour, label=f"{name} (members' mean)" if members else name)
            if members:
                values = np.array([[row[f"{m}/{split}/{metric}"] for m in members] for row in history], dtype=float)
                axis.plot(epochs, values, "-", lw=1.0, alpha=0.7, color=colour)  # each member, visible over the band
                std = np.nanstd(values, axis=1, ddof=1)
                axis.fill_between(epochs, np.array(mean) - std, np.array(mean) + std, color=colour, alpha=0.15,
                                  label=f"{name} ± std over {len(members)} members")
        if best_epoch:
            axis.axvline(best_epoch, color="#1e8449", ls="--", lw=1, label=f"best epoch ({best_epoch})")
        if stopped_early:
            axis.axvline(epochs[-1], color=WRONG, ls=":", lw=1, label=f"early stop ({epochs[-1]})")
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    loss_axis.set_title("loss")
    accuracy_axis.set_title(metric_name)
    figure.suptitle(title, fontsize=10)
    tight(figure)
    return figure


def predicted_vs_true_figure(true: np.ndarray, predicted: np.ndarray, names: list[str], title: str) -> Figure:
    """One panel per target: each test row as a dot, and the y = x line a perfect model would sit on."""
    figure, axes = subplots(1, len(names), figsize=(4.6 * len(names), 4.4), squeeze=False)
    for index, (axis, name) in enumerate(zip(axes.flat, names)):
        t, p = true[:, index], predicted[:, index]
        low, high = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
        axis.scatter(t, p, s=9, alpha=0.5, color=RIGHT, lw=0)
        axis.plot([low, high], [low, high], color="black", lw=1, ls="--", label="y = x (perfect)")
        axis.set_xlabel(f"true {name}")
        axis.set_ylabel(f"predicted {name}")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8, loc="upper left")
    figure.suptitle(title, fontsize=10)
    tight(figure)
    return figure


def residuals_figure(true: np.ndarray, predicted: np.ndarray, names: list[str], title: str) -> Figure:
    """Per target: residual (predicted - true) against the prediction, and the residuals' histogram with its
    density (seaborn's histplot: a skew or a long tail shows as the curve's shape)."""
    import seaborn as sns  # imported only when drawing, like matplotlib

    figure, axes = subplots(len(names), 2, figsize=(9.5, 3.6 * len(names)), squeeze=False)
    for index, name in enumerate(names):
        residual = predicted[:, index] - true[:, index]
        scatter_axis, hist_axis = axes[index]
        scatter_axis.scatter(predicted[:, index], residual, s=9, alpha=0.5, color=RIGHT, lw=0)
        scatter_axis.axhline(0, color="black", lw=1, ls="--")
        scatter_axis.set_xlabel(f"predicted {name}")
        scatter_axis.set_ylabel("residual (predicted - true)")
        scatter_axis.grid(alpha=0.3)
        sns.histplot(residual, bins=40, color=RIGHT, alpha=0.8, ax=hist_axis,
                     kde=len(residual) >= 5 and float(np.std(residual)) > 0)
        hist_axis.axvline(0, color="black", lw=1, ls="--")
        hist_axis.set_xlabel(f"residual of {name}")
        hist_axis.set_ylabel("test rows")
    figure.suptitle(title, fontsize=10)
    tight(figure)
    return figure


def weight_images_figure(weights: np.ndarray, input_shape: list[int], captions: list[str], title: str,
                         columns: int = 5) -> Figure:
    """Rows of a weight matrix seen as images, each stretched to its own range (blue-white-red for gray)."""
    channels = input_shape[0]
    images = []
    for row in weights:
        image = row.reshape(input_shape)
        if channels == 1:
            images.append((image[0], "RdBu_r", np.abs(image).max() or 1.0))
        else:
            low, high = image.min(), image.max()
            images.append((((image - low) / (high - low or 1.0)).transpose(1, 2, 0), None, None))
    rows = max(1, math.ceil(len(images) / columns))
    signed = channels == 1  # a signed colour scale: one key says which colour is which, for every image
    figure, axes = subplots(rows, columns + signed, figsize=(2.1 * columns + 0.5 * signed, 2.3 * rows + 0.3),
                            squeeze=False, gridspec_kw={"width_ratios": [1] * columns + [0.07] * signed})
    if signed:
        grid = axes[0, -1].get_subplotspec().get_gridspec()
        for axis in axes[:, -1]:
            axis.remove()
        key = figure.add_subplot(grid[:, -1])
        figure.colorbar(matplotlib.cm.ScalarMappable(matplotlib.colors.Normalize(-1, 1), "RdBu_r"), cax=key,
                        ticks=[-1, 0, 1], format=lambda v, _: "+" if v > 0 else "-" if v < 0 else "0")
        axes = axes[:, :-1]
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < len(images):
            image, cmap, bound = images[index]
            axis.imshow(image, cmap=cmap, vmin=-bound if bound else None, vmax=bound)
            axis.set_title(captions[index], fontsize=8)
    colours = "red: positive weights, blue: negative" if signed else "each image stretched to its own range"
    figure.suptitle(f"{title}\n({colours})", fontsize=10)
    tight(figure)
    return figure


def decision_boundary_figure(grid_x: np.ndarray, grid_y: np.ndarray, positive: np.ndarray,
                             train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray],
                             title: str) -> Figure:
    """Playground style: background coloured by P(positive), train points filled, test points hollow."""
    figure, axis = subplots(figsize=(5.2, 4.6))
    filled = axis.contourf(grid_x, grid_y, positive, levels=np.linspace(0, 1, 11), cmap="RdBu", alpha=0.75)
    axis.contour(grid_x, grid_y, positive, levels=[0.5], colors="black", linewidths=1)
    for (points, labels), style in ((train, {"edgecolors": "white"}), (test, {"edgecolors": "black", "marker": "s"})):
        axis.scatter(points[:, 0], points[:, 1], c=labels, cmap="RdBu", vmin=0, vmax=1, s=14, lw=0.6, **style)
    axis.scatter([], [], c="gray", edgecolors="white", label="train")
    axis.scatter([], [], c="gray", edgecolors="black", marker="s", label="test")
    axis.legend(fontsize=8, loc="upper right")
    axis.set_xlabel("x1")
    axis.set_ylabel("x2")
    axis.set_title(title, fontsize=10)
    figure.colorbar(filled, ax=axis, label="P(positive)")
    return figure


def step_loss_figure(steps: list[dict], title: str) -> Figure:
    """The training loss at every step (the per-iteration curve the per-epoch one averages), its running mean
    over about a twentieth of the run, and a dotted line where each epoch starts."""
    losses = np.array([row["loss"] for row in steps], dtype=float)
    figure, axis = subplots(figsize=(8, 4))
    axis.plot(np.arange(1, len(losses) + 1), losses, color="C0", alpha=0.35, linewidth=0.7, label="each step")
    window = max(1, len(losses) // 20)
    if window > 1:
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        axis.plot(np.arange(window, len(losses) + 1), smooth, color="C0", linewidth=1.8,
                  label=f"mean of the last {window} steps")
    starts = [i for i, row in enumerate(steps) if row["step"] == 1][1:]
    for start in starts[:200]:  # beyond that the lines would hide the curve
        axis.axvline(start + 0.5, color="0.75", linestyle=":", linewidth=0.8)
    if losses.size and losses.min() > 0 and losses.max() / losses.min() > 50:
        axis.set_yscale("log")
    axis.set_xlabel(f"training step ({len(steps)} over {len(starts) + 1 if steps else 0} epochs; dotted: a new epoch)")
    axis.set_ylabel("training loss")
    axis.set_title(f"{title}: the loss at every step", fontsize=10)
    axis.legend(fontsize=8)
    tight(figure)
    return figure


def compare_figure(histories: dict[str, list[dict]], metric_name: str = "accuracy") -> Figure:
    """Every run's curves on shared axes: validation solid, training dashed, in the run's own colour."""
    figure, (loss_axis, accuracy_axis) = subplots(1, 2, figsize=(11, 4))
    for index, (name, history) in enumerate(histories.items()):
        colour = f"C{index}"
        epochs = [row["epoch"] for row in history]
        for axis, metric in ((loss_axis, "loss"), (accuracy_axis, metric_name)):
            axis.plot(epochs, [row[f"val/{metric}"] for row in history], "-", color=colour, label=f"{name} (val)")
            axis.plot(epochs, [row[f"train/{metric}"] for row in history], "--", color=colour, alpha=0.6,
                      label=f"{name} (train)")
    for axis, metric in ((loss_axis, "loss"), (accuracy_axis, metric_name)):
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        axis.set_ylabel(metric)
        axis.set_title(f"{metric}: validation solid, training dashed")
        axis.grid(alpha=0.3)
    accuracy_axis.legend(fontsize=7, loc="best")
    tight(figure)
    return figure


def sweep_figure(rows: list[dict], metric: str = "accuracy") -> Figure:
    """Ranked grid points: the mean validation metric with the spread over repeats."""
    figure, axis = subplots(figsize=(8, 0.45 * len(rows) + 1.2))
    labels = [f"#{r['rank']} {r['setting']}" for r in rows]
    means = [r[f"val_{metric}_mean"] for r in rows]
    repeated = any(r["runs"] > 1 for r in rows)
    stds = [r[f"val_{metric}_std"] if r["runs"] > 1 else 0.0 for r in rows]
    # points, not bars: a bar's length reads as the value only from 0, and near-equal points would vanish there
    axis.errorbar(means, range(len(rows)), xerr=stds if repeated else None, fmt="o", color=RIGHT, capsize=3)
    axis.set_yticks(range(len(rows)), labels, fontsize=8)
    axis.invert_yaxis()
    if metric == "accuracy":
        axis.set_xlim(right=1.0)
    axis.set_xlabel(f"validation {metric}" + (" (mean ± std over repeats)" if repeated else ""))
    axis.set_title("sweep, best first")
    axis.grid(axis="x", alpha=0.3)
    tight(figure)
    return figure


def lr_find_figure(points: list[tuple[float, float]], suggested: float, steepest: float, title: str) -> Figure:
    figure, axis = subplots(figsize=(7, 4))
    axis.plot([lr for lr, _ in points], [loss for _, loss in points], color=RIGHT)
    axis.axvline(suggested, color="#1e8449", ls="--", label=f"suggested {suggested:.2g} (minimum / 10)")
    axis.axvline(steepest, color="#7d3c98", ls=":", label=f"steepest descent {steepest:.2g}")
    axis.set_xscale("log")
    losses = [loss for _, loss in points]
    low, start = min(losses), losses[0]
    axis.set_ylim(low - 0.1 * (start - low + 1e-12), start + 0.5 * (start - low + 1e-12))  # not the final blow-up
    axis.set_xlabel("learning rate (log scale)")
    axis.set_ylabel("training loss (smoothed)")
    axis.set_title(f"learning-rate range test: {title}")
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=8)
    tight(figure)
    return figure


def activations_figure(curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
                       shifts: dict[float, tuple[np.ndarray, np.ndarray]]) -> Figure:
    """Each activation (solid) and its derivative (dashed) on [-5, 5], then one panel of the sigmoid shifted by
    each bias (shifts: b -> (z, sigma(z + b)))."""
    columns = 4
    rows = math.ceil((len(curves) + 1) / columns)
    figure, axes = subplots(rows, columns, figsize=(3.2 * columns, 2.6 * rows), squeeze=False)
    for axis, (name, (x, y, dy)) in zip(axes.flat, curves.items()):
        axis.plot(x, y, color=RIGHT, label="f(x)")
        axis.plot(x, dy, color=WRONG, ls="--", label="f'(x)")
        axis.axhline(0, color="gray", lw=0.5)
        axis.axvline(0, color="gray", lw=0.5)
        axis.set_title(name, fontsize=10)
        axis.set_ylim(-2.2, 3.2)
        axis.grid(alpha=0.3)
    shifted = axes.flat[len(curves)]
    for bias, (z, y) in shifts.items():
        shifted.plot(z, y, label=f"b = {bias:g}: 1/2 at z = {0.0 - bias:g}")
    shifted.axhline(0.5, color="gray", lw=0.5, ls=":")
    shifted.set_title("sigmoid(z + b): the bias moves the step", fontsize=10)
    shifted.grid(alpha=0.3)
    shifted.legend(fontsize=7)
    for axis in list(axes.flat)[len(curves) + 1:]:
        axis.axis("off")
    axes.flat[0].legend(fontsize=8)
    figure.suptitle("activations (solid) and their derivatives (dashed)", fontsize=11)
    tight(figure)
    return figure


def optimizers_figure(paths: dict[str, np.ndarray], title: str,
                      surface: tuple[np.ndarray, np.ndarray, np.ndarray], formula: str) -> Figure:
    """Optimizer trajectories over the contours of the surface f(x, y) (grid x, grid y, values)."""
    figure, axis = subplots(figsize=(6.5, 5.5))
    gx, gy, values = surface
    if values.min() >= 0 and values.max() > 100 * max(np.median(values), 1e-9):  # a deep valley: log levels show it
        levels = np.geomspace(max(values.min(), 1e-3), values.max(), 30)
        contours = axis.contourf(gx, gy, values.clip(levels[0]), levels=levels, cmap="Greys", alpha=0.6,
                                 norm=matplotlib.colors.LogNorm())
    else:
        contours = axis.contourf(gx, gy, values, levels=30, cmap="Greys", alpha=0.6)
    figure.colorbar(contours, ax=axis, label=f"f(x, y) = {formula}")
    for index, (name, path) in enumerate(paths.items()):
        axis.plot(path[:, 0], path[:, 1], "-", color=f"C{index}", lw=1.6, label=name)
        axis.plot(path[-1, 0], path[-1, 1], "o", color=f"C{index}", ms=4)
    start = next(iter(paths.values()))[0]
    axis.plot(*start, "k*", ms=12, label="start")
    axis.set_xlim(gx.min(), gx.max())
    axis.set_ylim(gy.min(), gy.max())
    axis.set_xlabel("x")
    axis.set_ylabel("y")
    axis.set_title(title, fontsize=10)
    axis.legend(fontsize=8, loc="lower left")
    tight(figure)
    return figure


def softmax_figure(logits: np.ndarray, probabilities: np.ndarray, temperature: float) -> Figure:
    """Logits (left) and softmax(logits / T) (right), class by class."""
    figure, (left, right) = subplots(1, 2, figsize=(9, 3.4))
    names = [f"class {i}" for i in range(len(logits))]
    left.bar(names, logits, color=RIGHT)
    left.axhline(0, color="gray", lw=0.5)
    left.set_title("logits (the last layer's outputs)")
    right.bar(names, probabilities, color="#1e8449")
    for index, value in enumerate(probabilities):
        right.text(index, value, f"{value:.3f}", ha="center", va="bottom", fontsize=8)
    right.set_ylim(0, 1.1)
    right.set_title(f"softmax(logits / {temperature:g}): probabilities summing to 1")
    for axis in (left, right):
        axis.tick_params(axis="x", labelsize=8, rotation=45)
    tight(figure)
    return figure


def softmax_heatmap_figure(probabilities: np.ndarray, classes: list[str], rows: list[str], title: str) -> Figure:
    """Probabilities (images x classes) as a heat map with each cell's value: what a model answers, image by
    image (seaborn's heatmap)."""
    import seaborn as sns  # imported only when drawing, like matplotlib

    figure, axis = subplots(figsize=(1.0 + 0.75 * len(classes), 1.2 + 0.34 * len(rows)))
    sns.heatmap(probabilities, vmin=0, vmax=1, cmap="viridis", annot=True, fmt=".2f", annot_kws={"fontsize": 7},
                xticklabels=classes, yticklabels=rows, cbar_kws={"label": "probability"}, ax=axis)
    axis.set_xlabel("class")
    axis.set_title(title, fontsize=10)
    tight(figure)
    return figure


def compare_probabilities_figure(images: np.ndarray, scale: float, probabilities: dict[str, np.ndarray],
                                 classes: list[str], labels: list[int], titles: list[str]) -> Figure:
    """The same test images, each beside every model's class probabilities as grouped bars (the lab's last step:
    the MLP and the linear model looking at the same pictures)."""
    n, models = len(images), list(probabilities)
    figure, axes = subplots(n, 2, figsize=(8, 1.9 * n + 0.6), gridspec_kw={"width_ratios": [1, 2.6]},
                            squeeze=False)
    height = 0.8 / len(models)
    for row in range(n):
        image_axis, bar_axis = axes[row]
        image_axis.axis("off")
        pixels, cmap = as_display(images[row], scale)
        image_axis.imshow(pixels, cmap=cmap, vmin=0, vmax=1)
        image_axis.set_title(f"{titles[row]}: true {classes[labels[row]]}", fontsize=7)
        verdicts = []
        for index, name in enumerate(models):
            values = probabilities[name][row]
            bar_axis.barh(np.arange(len(classes)) + index * height, values, height=height, color=f"C{index}",
                          label=name if row == 0 else None)
            verdicts.append(f"{name}: {classes[int(values.argmax())]} ({values.max():.2f})")
        bar_axis.set_yticks(np.arange(len(classes)) + height * (len(models) - 1) / 2, classes, fontsize=7)
        bar_axis.invert_yaxis()
        bar_axis.set_xlim(0, 1)
        bar_axis.set_xticks([0, 0.5, 1], ["0", "0.5", "1"], fontsize=7)
        bar_axis.set_title("   ".join(verdicts), fontsize=7)
    axes[0, 1].legend(fontsize=7, loc="lower right")
    figure.suptitle("the same test images, every model's class probabilities", fontsize=10)
    tight(figure)
    return figure


def frames_figure(frames: list[tuple[str, np.ndarray]], title: str, columns: int = 5) -> Figure:
    """Pictures (RGB arrays) side by side, each with its caption: chosen epochs, or a sweep's grid points."""
    rows = max(1, math.ceil(len(frames) / columns))
    figure, axes = subplots(rows, columns, figsize=(2.4 * columns, 2.7 * rows + 0.4), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, (caption, image) in zip(axes.flat, frames):
        axis.imshow(image)
        axis.set_title(caption, fontsize=8)
    figure.suptitle(title, fontsize=10)
    tight(figure)
    return figure


def unit_maps_figure(maps: list[tuple[str, np.ndarray]], limit: float, title: str, columns: int = 6) -> Figure:
    """Small heat maps over the [-limit, limit] square, one per unit, each with its own symmetric colour scale."""
    rows = math.ceil(len(maps) / columns)
    figure, axes = subplots(rows, columns, figsize=(1.9 * columns, 2.0 * rows + 0.4), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, (caption, values) in zip(axes.flat, maps):
        bound = max(float(np.abs(values).max()), 1e-6)
        axis.imshow(values, origin="lower", extent=(-limit, limit, -limit, limit), cmap="RdBu", vmin=-bound, vmax=bound)
        axis.set_title(caption, fontsize=8)
    figure.suptitle(title, fontsize=10)
    tight(figure)
    return figure


def figure_array(figure: Figure) -> np.ndarray:
    """A figure as an RGB array (and closed)."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png_bytes(figure))).convert("RGB"))


def animation_gif(frames: list[tuple[str, np.ndarray]], milliseconds: int = 150, size: int | None = 360) -> bytes:
    """Pictures (RGB arrays) as an animated GIF, each with its caption at the top (size: scaled to a square of
    that many pixels); the last one lingers."""
    from PIL import Image, ImageDraw

    shape = (size, size) if size is not None else (frames[0][1].shape[1], frames[0][1].shape[0])  # (width, height)
    images = []
    for caption, frame in frames:
        image = Image.fromarray(frame)
        if image.size != shape:  # every frame the first's size, or the square asked for
            image = image.resize(shape, Image.NEAREST)
        ImageDraw.Draw(image).text((6, 4), caption, fill=(0, 0, 0))
        images.append(image.convert("P", palette=Image.ADAPTIVE))
    buffer = io.BytesIO()
    durations = [milliseconds] * (len(images) - 1) + [milliseconds * 10]
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)
    return buffer.getvalue()
