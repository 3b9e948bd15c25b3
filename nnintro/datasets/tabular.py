"""Tables: a CSV file of the user's, or scikit-learn's bundled tables, as float features and targets.

The file is planned first (columns.py: what every column is, and what stops training), then split (test rows
a fixed draw, validation by the seed), then encoded (encoding.py) with what the training rows alone teach.
The column spec saved with the run is also what reads rows back at predict time: one encoder for both.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnintro.datasets.base import RawDataset, Split, split_off
from nnintro.datasets.columns import MAX_CATEGORIES, ColumnPlan, ignore_hint, plan_column
from nnintro.datasets.encoding import Encoded, encode, fit_columns
from nnintro.errors import DataError, InputError, did_you_mean
from nnintro.files import check_file
from nnintro.tasks import Classification, Regression, Task

MAX_TABLE_BYTES = 2 * 1024**3
MAX_CLASSES = 20  # an integer target with at most this many values is read as class labels
ROWS_PER_CLASS = 5  # auto: a whole-number target is classes only when it has at least this many rows per value
SMALL_TEST = 30  # fewer test rows than this: every number is noisy, and the console says so
TEST_SPLIT_SEED = 0


def _delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def read_table(path: Path, what: str = "data.path", na_values: list[str] | None = None) -> Any:
    """A CSV file as a pandas DataFrame of texts and numbers (delimiter sniffed, UTF-8 or Latin-1), every failure
    one line. na_values: further cell texts that mean "missing"."""
    import pandas as pd

    check_file(path, what, MAX_TABLE_BYTES, DataError, " (image folders use data.dataset: folder)")
    with path.open("rb") as handle:
        head = handle.read(65536)
    if b"\0" in head:
        raise DataError(f"{what} {path}: binary file, not a CSV table")
    encoding = "utf-8-sig"
    try:
        head.decode(encoding)
    except UnicodeDecodeError as err:
        encoding = "latin-1" if err.start < len(head) - 4 else encoding  # a cut multi-byte character is fine
    sample = head.decode(encoding, errors="ignore")
    delimiter = _delimiter(sample)
    header = next(csv.reader(io.StringIO(sample), delimiter=delimiter, skipinitialspace=True), [])
    names = [name.strip() for name in header]
    twice = sorted({name for name in names if names.count(name) > 1 and name})
    if twice:  # before pandas renames the second one to 'name.1'
        raise DataError(f"{what} {path}: column '{twice[0]}' appears twice in the header; rename one of them")
    try:
        frame = pd.read_csv(path, sep=delimiter, encoding=encoding, skipinitialspace=True,
                            na_values=na_values or None)
    except pd.errors.EmptyDataError as err:
        raise DataError(f"{what} {path}: no columns (an empty table)") from err
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as err:
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise DataError(f"{what} {path}: not a readable CSV table ({first})") from err
    if len(frame) == 0:
        raise DataError(f"{what} {path}: has a header but no rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    duplicated = frame.columns[frame.columns.duplicated()].tolist()
    if duplicated:
        raise DataError(f"{what} {path}: column '{duplicated[0]}' appears twice")
    return frame.reset_index(drop=True)


def _column(frame: Any, name: str, source: str, field: str) -> Any:
    if name not in frame.columns:
        columns = [str(c) for c in frame.columns]
        shown = ", ".join(columns[:20]) + (", ..." if len(columns) > 20 else "")
        raise DataError(f"{field}: no column '{name}' in {source}{did_you_mean(name, columns)} (columns: {shown})")
    return frame[name]


def _target_values(series: Any, source: str) -> Any | None:
    """A target column as floats when it is numeric (None: text); a few text cells are an error."""
    plan = plan_column(series, np.arange(len(series)), listed=True)
    if plan.kind == "numeric":
        if plan.problem and "text" in plan.problem:
            raise DataError(f"{source}: target {plan.problem.removeprefix('column ')}")
        if not np.isfinite(plan.values.dropna().to_numpy()).all():
            raise DataError(f"{source}: target '{series.name}' holds infinite values")
        return plan.values
    return None


def _auto_task(values: Any | None, name: str) -> tuple[str, str]:
    """data.task auto: classes for text, and for whole numbers with few values each held by several rows (a
    count over a small table is a quantity); regression otherwise. Returns the task and the console's note."""
    if values is None:
        return "classification", ""
    distinct = values.nunique()
    whole = bool((values == values.round()).all())
    if whole and distinct <= MAX_CLASSES and distinct * ROWS_PER_CLASS <= len(values):
        return "classification", (f"data.task auto: classification ('{name}' holds {distinct} different whole "
                                  f"numbers; --set data.task=regression to predict it as a quantity)")
    return "regression", (f"data.task auto: regression ('{name}' holds {distinct} different values in {len(values)} "
                          f"rows{'; --set data.task=classification to treat them as classes' if whole else ''})")


def _task_and_targets(frame: Any, names: list[str], wanted: str, source: str) -> tuple[Task, np.ndarray, str]:
    """The task (auto: see _auto_task), the encoded targets, and what auto chose."""
    numeric = {name: _target_values(frame[name], source) for name in names}
    chosen = ""
    if wanted == "auto":
        if len(names) > 1:
            wanted = "regression"
        else:
            wanted, chosen = _auto_task(numeric[names[0]], names[0])
    if wanted == "regression":
        text = [name for name in names if numeric[name] is None]
        if text:
            raise DataError(f"{source}: target '{text[0]}' holds text, which regression cannot predict; "
                            f"use --set data.task=classification")
        return Regression(names), np.stack([numeric[n].to_numpy(np.float32) for n in names], 1), chosen
    if len(names) > 1:
        raise DataError(f"{source}: classification takes one target column, got {len(names)}")
    values = numeric[names[0]]
    if values is not None:  # numeric class labels keep their numeric order: 2 before 10
        labels = values.map(lambda v: f"{v:g}")
        classes = [f"{v:g}" for v in sorted(values.unique())]
    else:
        labels = frame[names[0]].astype(str).str.strip()
        classes = sorted(labels.unique())
    if len(classes) < 2:
        raise DataError(f"{source}: target '{names[0]}' has a single value ({classes[0]!r}); nothing to classify")
    if len(classes) > MAX_CATEGORIES:
        raise DataError(f"{source}: target '{names[0]}' has {len(classes)} classes; at most {MAX_CATEGORIES}")
    index = {c: i for i, c in enumerate(classes)}
    return Classification(classes), labels.map(index).to_numpy(np.int64), chosen


@dataclass
class TablePlan:
    """What a table run will do with a file, decided before anything trains (what `show` lists)."""

    targets: list[str]
    plans: list[ColumnPlan]
    ignored: list[str]

    @property
    def problems(self) -> list[str]:
        return [plan.problem for plan in self.plans if plan.problem]


def plan_table(frame: Any, targets: list[str], cfg: Any, source: str) -> TablePlan:
    """Every column's fate: an input of some kind (or a problem), a target, or ignored."""
    for name in [*targets, *cfg.ignore]:
        _column(frame, name, source, "data.target" if name in targets else "data.ignore")
    if cfg.features is not None:
        for name in cfg.features:
            _column(frame, name, source, "data.features")
        answer = [name for name in cfg.features if name in targets]
        if answer:
            raise DataError(f"data.features: '{answer[0]}' is the target; the answer cannot be an input "
                            f"(remove it from data.features)")
    features = cfg.features if cfg.features is not None else [c for c in frame.columns
                                                               if c not in targets and c not in cfg.ignore]
    if not features:
        raise DataError(f"{source}: no input columns left besides the target")
    positions = np.arange(len(frame))
    listed = set(cfg.features or [])
    plans = [plan_column(frame[name], positions, name in listed) for name in features]
    for plan in plans:
        if plan.problem:
            plan.problem = f"{source}: {plan.problem}"
    return TablePlan(targets, plans, [c for c in frame.columns if c not in targets and c not in features])


def _usable_rows(frame: Any, table: TablePlan, cfg: Any, source: str, keep: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The rows that can be trained on (those with a target, less those data.missing=drop removes), and notes."""
    missing = {plan.name: plan.values.isna().to_numpy() & keep for plan in table.plans}
    counts = {name: int(mask.sum()) for name, mask in missing.items() if mask.any()}
    if not counts or cfg.missing == "impute":
        return keep, []
    listed = ", ".join(f"'{name}' ({count} rows)" for name, count in counts.items())
    if cfg.missing == "error":
        raise DataError(f"{source}: missing values in {listed}; fill them from the training rows with "
                        f"--set data.missing=impute, drop those rows with --set data.missing=drop, or list such "
                        f"columns in data.ignore")
    kept = keep & ~np.any(list(missing.values()), axis=0)
    if kept.sum() < keep.sum() / 2:
        worst = sorted(counts, key=counts.get, reverse=True)[:3]
        blame = ", ".join(f"'{name}' ({counts[name]} of {int(keep.sum())} rows empty)" for name in worst)
        raise DataError(f"{source}: data.missing=drop would keep {int(kept.sum())} of {int(keep.sum())} rows; "
                        f"most are lost to {blame}; use --set data.missing=impute, or add {ignore_hint(*worst)}")
    return kept, [f"data.missing=drop: kept {int(kept.sum())} of {int(keep.sum())} rows (empty cells in {listed})"]


def _split_rows(y: np.ndarray, rows: np.ndarray, task: Task, cfg: Any, seed: int,
                source: str) -> dict[str, np.ndarray]:
    """Test rows: a fixed draw (like digits' test split), so runs with different seeds, models or settings are all
    scored on the same rows; validation: drawn from the rest by the seed, as every dataset's is."""
    from sklearn.model_selection import train_test_split

    if len(rows) < 10:
        raise DataError(f"{source}: {len(rows)} usable rows; at least 10 are needed to train, validate and test")
    stratify = None
    labels = y[rows]
    if isinstance(task, Classification):
        counts = np.bincount(labels, minlength=task.width)
        stratify = labels if counts.min() >= 2 and round(len(rows) * cfg.test_fraction) >= task.width else None
    rest, test = train_test_split(rows, test_size=cfg.test_fraction, random_state=TEST_SPLIT_SEED, stratify=stratify)
    rest = torch.from_numpy(np.sort(rest))
    train, val = split_off(Split(rest, rest), cfg.val_size, seed)
    return {"train": train.x.numpy(), "val": val.x.numpy(), "test": np.sort(test)}


def _fold_rows(y: np.ndarray, rows: np.ndarray, task: Task, cfg: Any, seed: int, source: str) -> dict[str, np.ndarray]:
    """data.folds: K folds of the usable rows (stratified for classes when each class has K rows); member k is tested
    on fold k and validated on val_size of the others, drawn by seed + k. Returns (K, file rows) masks per split."""
    from sklearn.model_selection import KFold, StratifiedKFold

    k = cfg.folds
    if len(rows) < 5 * k:
        raise DataError(f"data.folds: {len(rows)} usable rows cannot make {k} folds of at least 5; use fewer folds")
    labels = y[rows]
    stratified = isinstance(task, Classification) and np.bincount(labels, minlength=task.width).min() >= k
    splitter = (StratifiedKFold if stratified else KFold)(n_splits=k, shuffle=True, random_state=TEST_SPLIT_SEED)
    masks = {split: np.zeros((k, len(y)), bool) for split in ("train", "val", "test")}
    for member, (rest, test) in enumerate(splitter.split(rows, labels if stratified else None)):
        rest_rows = torch.from_numpy(rows[rest])
        train, val = split_off(Split(rest_rows, rest_rows), cfg.val_size, seed + member)
        for split, index in (("train", train.x.numpy()), ("val", val.x.numpy()), ("test", rows[test])):
            masks[split][member, index] = True
    return masks


def table_dataset(frame: Any, targets: list[str], cfg: Any, source: str, seed: int = 0) -> RawDataset:
    """A table -> train/val/test tensors, its task, the column spec predict needs, and each row's split."""
    table = plan_table(frame, targets, cfg, source)
    if table.problems:
        raise DataError(table.problems[0])
    has_target = frame[targets].notna().all(axis=1).to_numpy()
    if not has_target.any():
        raise DataError(f"{source}: target {', '.join(targets)} is empty in every row")
    task, y, chosen = _task_and_targets(frame[has_target], targets, cfg.task, source)  # before any row is dropped
    y_all = np.zeros((len(frame), *y.shape[1:]), dtype=y.dtype)
    y_all[has_target] = y
    usable, notes = _usable_rows(frame, table, cfg, source, has_target)
    notes = [*([chosen] if chosen else []), *notes]
    if isinstance(task, Classification):
        present = np.unique(y_all[usable])
        if len(present) < 2:
            raise DataError(f"{source}: the usable rows hold a single class ({task.classes[present[0]]!r}); "
                            f"nothing to classify")
    usable_rows = np.flatnonzero(usable)
    if cfg.folds:
        folds = _fold_rows(y_all, usable_rows, task, cfg, seed, source)
        rows = {split: usable_rows for split in ("train", "val", "test")}  # each member picks its own
        train_masks = list(folds["train"])
        notes.append(f"data.folds: {cfg.folds} folds of {usable.sum() // cfg.folds}+ rows; member k trains on the "
                     f"others and is tested on fold k")
    else:
        folds, rows = None, _split_rows(y_all, usable_rows, task, cfg, seed, source)
        train_masks = [np.isin(np.arange(len(frame)), rows["train"])]
        if len(rows["test"]) < SMALL_TEST:
            notes.append(f"the test split holds {len(rows['test'])} rows: one row moves accuracy by "
                         f"{100 / len(rows['test']):.0f} points, so its numbers are rough; compare with the "
                         f"references, or use --set data.folds=5")
    specs, left_out, fitted = fit_columns(table.plans, train_masks, cfg.missing == "impute", cfg.min_category_rows)
    notes += [plan.detail.split("; ", 1)[1] for plan in table.plans if plan.kind == "date" and "; " in plan.detail]
    notes += fitted
    if not specs:
        raise DataError(f"{source}: no input column carries anything on the training rows ({'; '.join(fitted)})")
    encoded = encode(frame, specs)
    for split in ("val", "test") if folds is None else ():
        for name, count in _unseen_counts(encoded, rows[split]).items():
            notes.append(f"column '{name}': {count} {split} row(s) hold a value never seen in training "
                         f"({_first_unseen(encoded, rows[split], name)}), encoded as "
                         f"{'(other)' if any(s.get('other') for s in specs if s['name'] == name) else 'no category'}")
    x = torch.from_numpy(encoded.x)
    target = torch.from_numpy(y_all)
    splits = {name: Split(x[index], target[index]) for name, index in rows.items()}
    row_splits = ["dropped"] * len(frame)
    for name, index in rows.items():
        for row in index:
            row_splits[row] = name
    if folds is not None:  # a row's split is the fold it is tested in
        for member, mask in enumerate(folds["test"]):
            for row in np.flatnonzero(mask):
                row_splits[row] = f"fold{member + 1}"
    return RawDataset(splits["train"], splits["test"], task, scale=1.0, kind="table",
                      inputs={"columns": specs, "targets": targets, **({"left_out": left_out} if left_out else {})},
                      val=splits["val"], notes=notes,
                      row_splits=row_splits,
                      folds={split: torch.from_numpy(mask[:, usable_rows]) for split, mask in folds.items()}
                      if folds is not None else None)


def column_fates(cfg: Any, seed: int) -> list[dict[str, str]]:
    """`show`: what will happen to every column of data.path, problems included, before anything trains."""
    frame = read_table(Path(cfg.path), na_values=cfg.na_values)
    targets = [cfg.target] if isinstance(cfg.target, str) else list(cfg.target)
    table = plan_table(frame, targets, cfg, str(cfg.path))
    fates = {name: "target" for name in targets}
    fates.update({name: "ignored (data.ignore, or not in data.features)" for name in table.ignored})
    specs: dict[str, dict] = {}
    left_out: dict[str, str] = {}
    if not table.problems:
        try:
            raw = table_dataset(frame, targets, cfg, str(cfg.path), seed)
            specs = {spec["name"]: spec for spec in raw.inputs["columns"]}
            left_out = raw.inputs.get("left_out", {})
        except DataError as err:
            fates.update({"(all)": f"refused: {err}"})
    for plan in table.plans:
        if plan.problem:
            fates[plan.name] = f"{plan.kind} -> refused: {plan.problem.split(': ', 1)[-1]}"
        elif plan.name in specs:
            spec = specs[plan.name]
            what = plan.detail
            if spec["kind"] == "category":
                what = f"category, {len(spec['categories'])} levels" + (" + (other) for rare ones" * bool(spec.get("other")))
            elif spec["kind"] == "date":
                what = f"date ({spec['format']}) -> {', '.join(spec['parts'])}"
            if "fill" in spec:
                what += f"; empty cells imputed with {spec['fill']!r}" + (" + a was-missing input" * bool(spec.get("indicator")))
            fates[plan.name] = what
        else:
            fates[plan.name] = f"left out: it {left_out[plan.name]}" if plan.name in left_out else plan.detail
    return [{"column": name, "fate": fates.get(name, "")} for name in frame.columns] + (
        [{"column": "(all)", "fate": fates["(all)"]}] if "(all)" in fates else [])


def _unseen_counts(encoded: Encoded, rows: np.ndarray) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        for name in encoded.unseen[row]:
            counts[name] = counts.get(name, 0) + 1
    return counts


def _first_unseen(encoded: Encoded, rows: np.ndarray, name: str) -> str:
    values = sorted({encoded.unseen[row][name] for row in rows if name in encoded.unseen[row]})
    return ", ".join(repr(v[:30]) for v in values[:3]) + (", ..." if len(values) > 3 else "")


def load_csv(cfg: Any, seed: int) -> RawDataset:
    path = Path(cfg.path)
    targets = [cfg.target] if isinstance(cfg.target, str) else list(cfg.target)
    return table_dataset(read_table(path, na_values=cfg.na_values), targets, cfg, str(path), seed)


def load_diabetes_table(cfg: Any, seed: int) -> RawDataset:
    """scikit-learn's bundled diabetes table (442 patients, 10 measurements; target: progression after a year)."""
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(as_frame=True, scaled=False)
    return table_dataset(bunch.frame, ["target"], builtin_table(cfg), "diabetes", seed)


def load_california_housing(cfg: Any, seed: int) -> RawDataset:
    """California housing (20,640 districts; target: median house value in $100,000s), through scikit-learn's
    downloader into data.root."""
    from sklearn.datasets import fetch_california_housing

    root = Path(cfg.root)
    try:
        bunch = fetch_california_housing(data_home=str(root), download_if_missing=cfg.download, as_frame=True)
    except OSError as err:
        if not cfg.download:
            raise DataError(f"california_housing: not found in {root}/; add --set data.download=true to fetch it "
                            f"through scikit-learn (needs internet), or set data.root to where it is") from err
        raise DataError(f"california_housing: download into {root}/ failed ({str(err)[:160]}); check the connection "
                        f"and retry, or copy cal_housing_py3.pkz into {root}/ and set data.download: false") from err
    return table_dataset(bunch.frame, ["MedHouseVal"], builtin_table(cfg), "california_housing", seed)


def builtin_table(cfg: Any) -> Any:
    """A built-in table's own columns are known: the user's csv-only settings do not apply (folds do)."""
    return cfg.model_copy(update={"ignore": [], "task": "regression", "features": None, "na_values": []})


def read_rows(path: Path, inputs: dict[str, Any]) -> tuple[torch.Tensor, list[dict[str, Any]]]:
    """predict: a CSV of raw rows -> model inputs, and per row its line, an error where it cannot be used,
    the values training never saw, and the true targets."""
    try:
        frame = read_table(path, "input")
    except DataError as err:
        raise InputError(str(err)) from err
    columns = inputs["columns"]
    needed = [c["name"] for c in columns]
    absent = [name for name in needed if name not in frame.columns]
    if absent:
        raise InputError(f"{path}: no column '{absent[0]}', which the model needs (needs: {', '.join(needed)})")
    encoded = encode(frame, columns)
    targets = [t for t in inputs["targets"] if t in frame.columns]
    rows = []
    for position in range(len(frame)):
        row: dict[str, Any] = {"row": position + 1}
        if encoded.errors[position]:
            row["error"] = f"{path} row {position + 1}: {'; '.join(encoded.errors[position])}"
        if encoded.unseen[position]:
            row["unseen"] = encoded.unseen[position]
        if len(targets) == 1:
            value = frame[targets[0]].iloc[position]
            if isinstance(value, str):
                row["true"] = value.strip()
            elif value is not None and not np.isnan(value):
                row["true"] = float(value)
        rows.append(row)
    return torch.from_numpy(encoded.x), rows
