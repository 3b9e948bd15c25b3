"""A table's columns as model inputs: the encoding is learned from the training rows alone, saved with the run,
and applied the same way to validation, test and predict's rows.

Learned from the training rows: the categories (rare ones pooled into one `(other)` input, as scikit-learn's
min_frequency does), the values that fill missing cells (median, most frequent, median date) with a
was-missing input per such column, and which columns carry nothing there (constant: left out). A value never
seen in training goes to `(other)` where the column has one, else to no category, and is listed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nnintro.datasets.columns import LARGEST_VALUE, ColumnPlan, date_parts, dates, numbers

OTHER = "(other)"


@dataclass
class Encoded:
    """Rows as float inputs, and per row what could not be used (an error) or was not seen in training."""

    x: np.ndarray  # (N, width) float32
    errors: list[list[str]]  # per row: problems that make it unusable
    unseen: list[dict[str, str]]  # per row: column -> a value training never saw


def column_width(spec: dict[str, Any]) -> int:
    kind = spec["kind"]
    width = {"numeric": 1, "date": len(spec.get("parts", ())), "category": len(spec.get("categories", ()))}[kind]
    return width + int(bool(spec.get("other"))) + int(bool(spec.get("indicator")))


def levels(spec: dict[str, Any]) -> list[str]:
    """A category column's one-hot inputs, by the category each stands for."""
    return [*spec["categories"], *([OTHER] if spec.get("other") else [])]


def input_names(spec: dict[str, Any]) -> list[str]:
    """The names of the inputs a column becomes, in order."""
    name = spec["name"]
    names = {"numeric": lambda: [name], "date": lambda: [f"{name}.{part}" for part in spec["parts"]],
             "category": lambda: [f"{name}={c}" for c in spec["categories"]]}[spec["kind"]]()
    if spec.get("other"):
        names.append(f"{name}={OTHER}")
    if spec.get("indicator"):
        names.append(f"{name} was missing")
    return names


def _varies(column: Any, masks: list[np.ndarray], missing: np.ndarray) -> bool:
    """True when the values differ within every set of training rows."""
    return all(column[mask & ~missing].min() != column[mask & ~missing].max() for mask in masks)


def _fit_one(plan: ColumnPlan, masks: list[np.ndarray], impute: bool, min_rows: int) -> tuple[dict | None, str | None]:
    """The column's spec from the training rows (under data.folds: what holds for every fold's training rows), or
    (None, why it is left out: "is constant (3) on the training rows")."""
    union = np.any(masks, axis=0)
    missing = plan.values.isna().to_numpy()
    spec: dict[str, Any] = {"name": plan.name, "kind": plan.kind}
    present = plan.values[union & ~missing]
    if any(not (mask & ~missing).any() for mask in masks):
        return None, "is empty in every training row"
    if plan.kind == "numeric":
        if plan.decimal_comma:
            spec["decimal_comma"] = True
        if not _varies(plan.values.to_numpy(), masks, missing):
            return None, f"is constant ({present.iloc[0]:g}) on the training rows"
        fill = float(np.median(present))
    elif plan.kind == "date":
        parts = date_parts(plan.values)
        spec["format"] = plan.date_format
        spec["parts"] = [part for part, column in parts.items() if _varies(column, masks, missing)]
        if not spec["parts"]:
            return None, "holds a single date on the training rows"
        fill = present.sort_values().iloc[len(present) // 2].strftime(plan.date_format)
    else:
        counts = [plan.values[mask & ~missing].value_counts() for mask in masks]
        fewest = counts[0].reindex(present.unique(), fill_value=0)
        for more in counts[1:]:
            fewest = np.minimum(fewest, more.reindex(fewest.index, fill_value=0))
        kept = sorted(str(c) for c, n in fewest.items() if n >= min_rows)
        pooled = all(int(c[~c.index.isin(kept)].sum()) > 0 for c in counts)
        if len(kept) + pooled < 2:
            return None, "has a single category on the training rows"
        spec["categories"] = kept
        if pooled:
            spec["other"] = True
        fill = str(present.value_counts().index[0])
    if impute:
        spec["fill"] = fill
        if all((mask & missing).any() for mask in masks):
            spec["indicator"] = True
    return spec, None


def fit_columns(plans: list[ColumnPlan], masks: list[np.ndarray], impute: bool,
                min_rows: int) -> tuple[list[dict], dict[str, str], list[str]]:
    """Every usable column's spec, learned from the training rows (boolean masks: one, or one per fold), the
    columns left out (name -> why), and notes for the console on what was left out or pooled."""
    specs, left_out, notes = [], {}, []
    for plan in plans:
        spec, reason = _fit_one(plan, masks, impute, min_rows)
        if spec is None:
            left_out[plan.name] = reason
            notes.append(f"column '{plan.name}' {reason}: left out")
            continue
        specs.append(spec)
        rare = plan.values[np.any(masks, axis=0)].dropna()
        rare = rare[~rare.isin(spec.get("categories", rare))].nunique() if spec["kind"] == "category" else 0
        if rare:
            notes.append(f"column '{plan.name}': {rare} categories seen in fewer than {min_rows} training rows "
                         f"{'pooled into ' + OTHER if spec.get('other') else 'encoded as no category'} "
                         f"(data.min_category_rows)")
    return specs, left_out, notes


def _encode_one(series: Any, spec: dict[str, Any], errors: list[list[str]], unseen: list[dict[str, str]]) -> np.ndarray:
    """One column's inputs for every row (vectorised; only the rows with a problem are visited one by one)."""
    import pandas as pd

    name, kind, fill = spec["name"], spec["kind"], spec.get("fill")
    if kind != "category" and (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
        texts, empty = series, series.isna().to_numpy(bool)  # numbers as read: no text to look at
    else:
        texts = series.astype("string").str.strip()
        empty = (series.isna() | texts.eq("").fillna(False)).to_numpy(bool)
    block = np.zeros((len(series), column_width(spec)))
    for row in np.flatnonzero(empty) if fill is None else ():
        errors[row].append(f"no value for {name}")
    if kind == "category":
        categories = spec["categories"]
        values = texts.where(~empty, fill if fill is not None else pd.NA)
        codes = values.map({c: i for i, c in enumerate(categories)}).to_numpy(dtype=float, na_value=np.nan)
        known = ~np.isnan(codes)
        block[np.flatnonzero(known), codes[known].astype(int)] = 1.0
        new = ~known & ~empty
        if spec.get("other"):
            block[new, len(categories)] = 1.0
        for row in np.flatnonzero(new):
            unseen[row][name] = str(values.iloc[row])
    else:
        if kind == "numeric":
            columns = numbers(series, spec.get("decimal_comma", False)).to_numpy(np.float64)[:, None]
            filled = np.array([float(fill)]) if fill is not None else None
            what = "a number"
        else:
            parts = date_parts(dates(series, spec["format"]))
            columns = np.stack([parts[p] for p in spec["parts"]], 1)
            filled = (np.stack([date_parts(pd.Series(pd.to_datetime([fill], format=spec["format"])))[p]
                                for p in spec["parts"]], 1)[0] if fill is not None else None)
            what = f"a date ({spec['format']})"
        value = columns[:, 0]
        unreadable = ~empty & np.isnan(value)
        too_large = ~empty & ~unreadable & ~(np.abs(value) <= LARGEST_VALUE)  # infinite included
        good = ~empty & ~unreadable & ~too_large
        block[good, :columns.shape[1]] = columns[good]
        if filled is not None:
            block[empty, :columns.shape[1]] = filled
        for row in np.flatnonzero(unreadable):
            errors[row].append(f"{name} holds {str(series.iloc[row])[:30]!r}, not {what}")
        for row in np.flatnonzero(too_large):
            errors[row].append(f"{name} holds {value[row]:g}, beyond the values a model can take")
    if spec.get("indicator"):
        block[:, -1] = empty
    return block


def encode(frame: Any, specs: list[dict[str, Any]]) -> Encoded:
    """Rows (a DataFrame with the spec's columns) as the model's inputs."""
    errors: list[list[str]] = [[] for _ in range(len(frame))]
    unseen: list[dict[str, str]] = [{} for _ in range(len(frame))]
    blocks = [_encode_one(frame[spec["name"]], spec, errors, unseen) for spec in specs]
    x = np.concatenate(blocks, axis=1) if blocks else np.zeros((len(frame), 0))
    x[[bool(e) for e in errors]] = 0.0  # unusable rows carry no half-read values
    return Encoded(x.astype(np.float32), errors, unseen)
