"""Tables: a CSV file of the user's, or scikit-learn's bundled tables, as float features and targets.

Numeric columns stay numbers (the model standardizes them itself); text columns become one-hot columns
whose categories are saved with the run, so a saved run predicts from raw rows. The column spec this
module writes is also what reads rows back at predict time: one encoder for training and predicting.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnintro.datasets.base import RawDataset, Split
from nnintro.errors import DataError, InputError, did_you_mean
from nnintro.files import check_file
from nnintro.tasks import Classification, Regression, Task

MAX_TABLE_BYTES = 2 * 1024**3
MAX_CLASSES = 20  # an integer target with at most this many values is read as class labels
MAX_CATEGORIES = 1000
TEST_SPLIT_SEED = 0
NUMERIC_SHARE = 0.9  # a text column whose cells are this often numbers is a numeric column with garbage in it


def read_table(path: Path, what: str = "data.path") -> Any:
    """A CSV file as a pandas DataFrame (delimiter sniffed, UTF-8 or Latin-1), every failure one line."""
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
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    try:
        frame = pd.read_csv(path, sep=delimiter, encoding=encoding, skipinitialspace=True)
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
    return frame


def _column(frame: Any, name: str, source: str, field: str) -> Any:
    if name not in frame.columns:
        columns = [str(c) for c in frame.columns]
        shown = ", ".join(columns[:20]) + (", ..." if len(columns) > 20 else "")
        raise DataError(f"{field}: no column '{name}' in {source}{did_you_mean(name, columns)} (columns: {shown})")
    return frame[name]


def _numeric(series: Any, source: str, what: str) -> tuple[Any, bool]:
    """(values as floats, True) when the column is numeric (a few garbage cells are an error), else (., False)."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return series.astype(float), True
    if pd.api.types.is_numeric_dtype(series):
        return series.astype(float), True
    present = series.dropna()
    parsed = pd.to_numeric(present, errors="coerce")
    if len(present) and parsed.notna().mean() >= NUMERIC_SHARE:
        bad = present[parsed.isna()]
        row = int(bad.index[0]) + 2  # the file's line: header is line 1
        raise DataError(f"{source}: {what} '{series.name}' is numeric but line {row} holds {str(bad.iloc[0])[:40]!r}; "
                        f"fix or empty that cell")
    return series, False


def _check_not_identifier(series: Any, source: str) -> None:
    values = series.dropna().astype(str)
    unique = values.nunique()
    if unique > MAX_CATEGORIES or (len(values) >= 20 and unique > 0.5 * len(values)):
        raise DataError(f"{source}: column '{series.name}' looks like an identifier ({unique} different texts in "
                        f"{len(values)} rows), which cannot help predict; add --set \"data.ignore=[{series.name}]\"")


def encode_columns(frame: Any, columns: list[dict[str, Any]]) -> tuple[np.ndarray, list[dict[str, str]]]:
    """Rows -> float features with a fitted column spec; per row, the unseen categories found (all-zero one-hot)."""
    import pandas as pd

    blocks, unseen = [], [dict() for _ in range(len(frame))]
    for spec in columns:
        series = frame[spec["name"]]
        if spec["kind"] == "numeric":
            blocks.append(pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)[:, None])
            continue
        categories = spec["categories"]
        index = {c: i for i, c in enumerate(categories)}
        block = np.zeros((len(frame), len(categories)))
        for row, value in enumerate(series.astype(str).str.strip()):
            if value in index:
                block[row, index[value]] = 1.0
            elif not pd.isna(series.iloc[row]):
                unseen[row][spec["name"]] = value
        blocks.append(block)
    return np.concatenate(blocks, axis=1).astype(np.float32), unseen


def _task_and_targets(frame: Any, names: list[str], wanted: str, source: str) -> tuple[Task, np.ndarray]:
    """The task (auto: regression for numeric targets with many values) and the encoded targets."""
    numeric = {}
    for name in names:
        values, is_numeric = _numeric(frame[name], source, "target")
        if is_numeric and not np.isfinite(values.to_numpy()).all():
            raise DataError(f"{source}: target '{name}' holds infinite values")
        numeric[name] = values if is_numeric else None
    if wanted == "auto":
        if len(names) > 1:
            wanted = "regression"
        else:
            values = numeric[names[0]]
            few_integers = values is not None and (values == values.round()).all() and values.nunique() <= MAX_CLASSES
            wanted = "classification" if values is None or few_integers else "regression"
    if wanted == "regression":
        text = [name for name in names if numeric[name] is None]
        if text:
            raise DataError(f"{source}: target '{text[0]}' holds text, which regression cannot predict; "
                            f"use --set data.task=classification")
        return Regression(names), np.stack([numeric[n].to_numpy(np.float32) for n in names], 1)
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
    return Classification(classes), labels.map(index).to_numpy(np.int64)


def table_dataset(frame: Any, targets: list[str], cfg: Any, source: str) -> RawDataset:
    """A table -> train/test tensors, its task and the column spec predict needs."""
    for name in [*targets, *cfg.ignore]:
        _column(frame, name, source, "data.target" if name in targets else "data.ignore")
    features = cfg.features if cfg.features is not None else [c for c in frame.columns
                                                               if c not in targets and c not in cfg.ignore]
    for name in features:
        _column(frame, name, source, "data.features")
    if not features:
        raise DataError(f"{source}: no input columns left besides the target")
    has_target = frame[targets].notna().all(axis=1)
    if not has_target.any():
        raise DataError(f"{source}: target {', '.join(targets)} is empty in every row")
    frame = frame[has_target]  # rows without a target are never trained on
    numeric = {}
    for name in features:  # what each column is, judged on its filled cells, before anything is dropped
        series, numeric[name] = _numeric(frame[name], source, "column")
        if numeric[name] and not np.isfinite(series.dropna().to_numpy()).all():
            raise DataError(f"{source}: column '{name}' holds infinite values")
        if not numeric[name]:
            _check_not_identifier(series, source)
    missing = {name: int(count) for name, count in frame[features].isna().sum().items() if count}
    if missing and cfg.missing == "error":
        listed = ", ".join(f"'{name}' ({count} rows)" for name, count in missing.items())
        raise DataError(f"{source}: missing values in {listed}; drop those rows with --set data.missing=drop, "
                        f"or list such columns in data.ignore")
    if missing:
        frame = frame.dropna(subset=features)
    columns = [{"name": name, "kind": "numeric"} if numeric[name] else
               {"name": name, "kind": "category",
                "categories": sorted(frame[name].astype(str).str.strip().unique().tolist())} for name in features]
    task, y = _task_and_targets(frame, targets, cfg.task, source)
    x, _ = encode_columns(frame, columns)
    train_index, test_index = _split_rows(y, task, cfg.test_fraction, source)
    train = Split(torch.from_numpy(x[train_index]), torch.from_numpy(y[train_index]))
    test = Split(torch.from_numpy(x[test_index]), torch.from_numpy(y[test_index]))
    return RawDataset(train, test, task, scale=1.0, kind="table", inputs={"columns": columns, "targets": targets})


def _split_rows(y: np.ndarray, task: Task, test_fraction: float, source: str) -> tuple[Any, Any]:
    """The held-out test rows: a fixed draw (like digits' test split), so runs with different seeds, models or
    settings are all scored on the same rows."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(y))
    if len(rows) < 10:
        raise DataError(f"{source}: {len(rows)} usable rows; at least 10 are needed to train, validate and test")
    stratify = None
    if isinstance(task, Classification):
        counts = np.bincount(y, minlength=task.width)
        stratify = y if counts.min() >= 2 and round(len(y) * test_fraction) >= task.width else None
    train, test = train_test_split(rows, test_size=test_fraction, random_state=TEST_SPLIT_SEED, stratify=stratify)
    return np.sort(train), np.sort(test)


def load_csv(cfg: Any, seed: int) -> RawDataset:
    path = Path(cfg.path)
    targets = [cfg.target] if isinstance(cfg.target, str) else list(cfg.target)
    return table_dataset(read_table(path), targets, cfg, str(path))


def load_diabetes_table(cfg: Any, seed: int) -> RawDataset:
    """scikit-learn's bundled diabetes table (442 patients, 10 measurements; target: progression after a year)."""
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(as_frame=True, scaled=False)
    return table_dataset(bunch.frame, ["target"], _builtin(cfg), "diabetes")


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
    return table_dataset(bunch.frame, ["MedHouseVal"], _builtin(cfg), "california_housing")


def _builtin(cfg: Any) -> Any:
    """A built-in table's own columns are known: the user's csv-only settings do not apply."""
    return cfg.model_copy(update={"ignore": [], "task": "regression"})


def read_rows(path: Path, inputs: dict[str, Any]) -> tuple[torch.Tensor, list[dict[str, Any]]]:
    """predict: a CSV of raw rows -> model inputs, and per row its line, unseen categories and true targets."""
    try:
        frame = read_table(path, "input")
    except DataError as err:
        raise InputError(str(err)) from err
    columns = inputs["columns"]
    needed = [c["name"] for c in columns]
    absent = [name for name in needed if name not in frame.columns]
    if absent:
        raise InputError(f"{path}: no column '{absent[0]}', which the model needs (needs: {', '.join(needed)})")
    for spec in columns:
        if spec["kind"] == "numeric":
            _numeric(frame[spec["name"]], str(path), "column")
    x, unseen = encode_columns(frame, columns)
    lacking = frame[needed].isna()
    targets = [t for t in inputs["targets"] if t in frame.columns]
    rows = []
    for position in range(len(frame)):
        row: dict[str, Any] = {"row": position + 1}
        empty = [name for name in needed if lacking[name].iloc[position]]
        if empty:
            row["error"] = f"{path} row {position + 1}: no value for {', '.join(empty)}"
        if unseen[position]:
            row["unseen"] = unseen[position]
        if len(targets) == 1:
            value = frame[targets[0]].iloc[position]
            if isinstance(value, str):
                row["true"] = value.strip()
            elif not np.isnan(value):
                row["true"] = float(value)
        rows.append(row)
    return torch.from_numpy(x), rows
