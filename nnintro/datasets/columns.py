"""What each column of a table is, judged from the file before anything trains: a number, a category, a date,
or something that cannot be an input as it stands (an identifier, a column of garbage), with the --set that fixes it.

The same cell parsers read the rows again at predict time, so a file is read the same way in training and after.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

NUMERIC_SHARE = 0.9  # a text column whose cells are this often numbers is a numeric column with a few bad cells
DATE_SHARE = 0.9  # likewise for dates
MAX_CATEGORIES = 1000
MIN_ROWS_FOR_KEYS = 20  # below this, distinct whole numbers are no evidence of a key
LARGEST_VALUE = 1e30  # beyond this, squares overflow float64 sums and values overflow float32 inputs
DATE_PARTS = ("year", "month", "day_of_year", "day_of_week")
TIME_NAMES = re.compile(r"(?i)^(.*[_ .])?(year|yr|time|period|quarter|month|week|day|t)([_ .].*)?$")
ID_NAMES = re.compile(r"(?i)^(unnamed: ?\d+|rownames?|row(_?(id|no|num|number))?|index|idx|id|key|.*[_ ]id)$")
DECIMAL_COMMA = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+),\d+ ?%?$")
DATE_FORMS = [  # (pattern of the date part, strptime format, what the console calls it)
    (re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$"), "%Y-%m-%d", "year-month-day"),
    (re.compile(r"^\d{4}/\d{1,2}/\d{1,2}$"), "%Y/%m/%d", "year/month/day"),
    (re.compile(r"^\d{1,2}\.\d{1,2}\.\d{4}$"), "%d.%m.%Y", "day.month.year"),
    (re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$"), None, "slashes"),  # day- or month-first: decided by the values
    (re.compile(r"^\d{1,2}-\d{1,2}-\d{4}$"), None, "dashes"),
]
TIME_PART = re.compile(r"[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")


@dataclass
class ColumnPlan:
    """One input column: its kind (numeric, category, date), a line for `show`, and a problem that stops
    training (one line naming the column and the --set that fixes it), or None."""

    name: str
    kind: str
    detail: str
    problem: str | None = None
    decimal_comma: bool = False
    date_format: str | None = None
    values: Any = field(default=None, repr=False)  # parsed: floats (NaN: missing), stripped texts, or datetimes


def ignore_hint(*names: str) -> str:
    """The --set that leaves these columns out, quoted so YAML reads each name as written ('Unnamed: 0', 1960)."""
    import yaml

    listed = yaml.safe_dump([str(n) for n in names], default_flow_style=True, width=10_000).strip()
    return f'--set "data.ignore={listed}"'


def _shown(values: Any, count: int = 4) -> str:
    return ", ".join(repr(str(v)[:30]) for v in list(values)[:count])


def numbers(series: Any, decimal_comma: bool) -> Any:
    """Cells as floats: NaN where empty or not a number (decimal commas read when the column uses them; a
    percentage such as `12.5%` is the number 0.125)."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return series.astype(float)
    text = series.astype("string").str.strip()
    percent = text.str.endswith("%").fillna(False).to_numpy(bool)
    text = text.str.removesuffix("%").str.strip()
    if decimal_comma:  # the European form: '.' groups thousands, ',' marks the decimals
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    values = pd.to_numeric(text, errors="coerce").astype(float)
    return values.where(~percent, values / 100)


def dates(series: Any, date_format: str) -> Any:
    """Cells as datetimes (NaT where empty or not a date of that form); a time of day is dropped."""
    import pandas as pd

    text = series.astype("string").str.strip().str.replace(TIME_PART, "", regex=True)
    return pd.to_datetime(text, format=date_format, errors="coerce")


def date_parts(values: Any) -> dict[str, np.ndarray]:
    """A date as the numbers a model can use (NaN where the date is missing)."""
    return {"year": values.dt.year.to_numpy(float), "month": values.dt.month.to_numpy(float),
            "day_of_year": values.dt.day_of_year.to_numpy(float),
            "day_of_week": values.dt.day_of_week.to_numpy(float)}


def _date_format(present: Any) -> tuple[str | None, str]:
    """The strptime format most of these texts follow, and a note when day and month order was a guess."""
    stripped = present.str.replace(TIME_PART, "", regex=True)
    for pattern, form, _ in DATE_FORMS:
        matches = stripped[stripped.str.match(pattern)]
        if len(matches) < DATE_SHARE * len(present):
            continue
        if form is not None:
            return form, ""
        separator = "/" if "/" in matches.iloc[0] else "-"
        first = matches.str.split(separator).str[0].astype(int)
        second = matches.str.split(separator).str[1].astype(int)
        if (first > 12).any() and (second > 12).any():
            return None, ""
        if (first > 12).any():
            return f"%d{separator}%m{separator}%Y", ""
        if (second > 12).any():
            return f"%m{separator}%d{separator}%Y", ""
        return f"%m{separator}%d{separator}%Y", "read as month first (no value tells day from month)"
    return None, ""


def _numeric_plan(name: str, values: Any, positions: np.ndarray, decimal_comma: bool, listed: bool) -> ColumnPlan:
    present = values.dropna().to_numpy()
    detail = f"number, {present.min():.4g} to {present.max():.4g}" if len(present) else "number, every cell empty"
    plan = ColumnPlan(name, "numeric", detail + (" (decimal commas)" if decimal_comma else ""),
                      decimal_comma=decimal_comma, values=values)
    ignore = ignore_hint(name)
    if not np.isfinite(present).all():
        plan.problem = f"column '{name}' holds infinite values; fix those cells, or add {ignore}"
    elif len(present) and np.abs(present).max() > LARGEST_VALUE:
        plan.problem = (f"column '{name}' holds values as large as {np.abs(present).max():.3g}, too large to "
                        f"standardize; rescale it (a logarithm or another unit), or add {ignore}")
    elif len(present) >= MIN_ROWS_FOR_KEYS and (present == np.round(present)).all() and not listed:
        # a time (a year, a period counter) is a real input even when it counts the rows: a trend, not a key
        if TIME_NAMES.match(name):
            return plan
        filled = values.notna().to_numpy()
        position = values.to_numpy()[filled]
        if (position == positions[filled]).all() or (position == positions[filled] + 1).all():
            plan.kind, plan.problem = "identifier", (f"column '{name}' is the row number (row 1 holds "
                                                     f"{position[0]:g}); it cannot help predict and leaks the "
                                                     f"file's order; add {ignore}")
        elif len(np.unique(present)) == len(present) and (ID_NAMES.match(name) or np.ptp(present) < 2 * len(present)):
            why = "its name says so" if ID_NAMES.match(name) else "they nearly count through a range"
            plan.kind, plan.problem = "identifier", (
                f"column '{name}' looks like a row number or key (all {len(present)} values are different whole "
                f"numbers, and {why}); add {ignore} (if it is a real quantity, name the inputs in data.features)")
    return plan


def plan_column(series: Any, positions: np.ndarray, listed: bool) -> ColumnPlan:
    """What a column is; positions: each row's place among the file's data rows (0: the first)."""
    import pandas as pd

    name = str(series.name)
    ignore = ignore_hint(name)
    if series.isna().all():
        return ColumnPlan(name, "empty", "every cell empty", f"column '{name}' is empty in every row; add {ignore}")
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return _numeric_plan(name, numbers(series, False), positions, False, listed)
    present = series.dropna().astype(str).str.strip()
    decimal_comma = bool(present.str.match(DECIMAL_COMMA).any())
    parsed = numbers(series, decimal_comma)
    bad = present[parsed[present.index].isna()]
    if len(present) and 1 - len(bad) / len(present) >= NUMERIC_SHARE:
        if len(bad):
            counts = bad.value_counts()
            listing = ", ".join(f"{value[:30]!r} ({count})" for value, count in counts.head(5).items())
            line = int(bad.index[0]) + 2  # the file's line: the header is line 1
            texts = ", ".join(str(v)[:30] for v in counts.index[:5])
            return ColumnPlan(name, "numeric", "number with text cells", (
                f"column '{name}' is numeric but line {line} holds {str(bad.iloc[0])[:30]!r} ({len(bad)} text "
                f"cell(s): {listing}); treat them as missing with --set \"data.na_values=[{texts}]\" and "
                f"--set data.missing=impute, "
                f"or fix the file"))
        return _numeric_plan(name, parsed, positions, decimal_comma, listed)
    date_format, guess = _date_format(present)
    if date_format is not None:
        values = dates(series, date_format)
        unparsed = present[values[present.index].isna()]
        if len(unparsed) <= (1 - DATE_SHARE) * len(present):
            if len(unparsed):
                return ColumnPlan(name, "date", "date with other cells", (
                    f"column '{name}' holds dates ({date_format}) but {len(unparsed)} cell(s) are not: "
                    f"{_shown(unparsed.unique())}; fix them, treat them as missing with data.na_values, or add {ignore}"))
            span = f"{values.min():%Y-%m-%d} to {values.max():%Y-%m-%d}"
            return ColumnPlan(name, "date", f"date ({date_format}), {span}, as {', '.join(DATE_PARTS)}"
                              + (f"; {guess}" if guess else ""), date_format=date_format, values=values)
    unique = present.nunique()
    plan = ColumnPlan(name, "category", f"category, {unique} levels", values=series.where(series.isna(),
                                                                                            series.astype(str).str.strip()))
    if unique > MAX_CATEGORIES or (len(present) >= 20 and unique > 0.5 * len(present)):
        plan.kind, plan.problem = "identifier", (
            f"column '{name}' looks like an identifier ({unique} different texts in {len(present)} rows, e.g. "
            f"{_shown(present.unique(), 3)}), which cannot help predict; add {ignore}")
    elif unique > max(50, len(present) / 20):
        plan.kind, plan.problem = "identifier", (
            f"column '{name}' has {unique} different texts in {len(present)} rows (e.g. {_shown(present.unique(), 3)}); "
            f"as categories most would be seen only a few times; add {ignore}")
    return plan
