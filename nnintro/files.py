"""Files, read and written safely: the user's files checked before reading (there, not empty, not a folder, not
larger than the reader is meant for); every file nnintro writes written atomically; strict JSON; CSV; output
paths that never replace a user's file unasked."""
from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nnintro.errors import STORAGE_ERRNOS, InputError, NnintroError, RunError, storage_error


def check_file(path: Path, what: str, max_bytes: int, error: type[NnintroError], folder_hint: str = "") -> int:
    """The file's size, or `error` with one line naming `what` and the path."""
    where = f"{what} {path}".strip()
    if not path.exists():
        raise error(f"{where}: no such file")
    if path.is_dir():
        raise error(f"{where}: is a folder, not a file{folder_hint}")
    size = path.stat().st_size
    if size == 0:
        raise error(f"{where}: file is empty")
    if size > max_bytes:
        raise error(f"{where}: file is {size / 2**20:,.0f} MiB, larger than the {max_bytes / 2**20:,.0f} MiB limit")
    return size


TEMP_SUFFIX = ".tmp"


def file_mode() -> int:
    """What open() would give a new file under the user's umask (mkstemp alone gives 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write to a temp file in the same folder, fsync, rename: readers see the old file or the new one."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    except OSError as err:
        if err.errno in STORAGE_ERRNOS:
            raise storage_error(err, path) from err
        raise
    try:
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException as err:
        Path(tmp_name).unlink(missing_ok=True)
        if isinstance(err, OSError) and err.errno in STORAGE_ERRNOS:
            raise storage_error(err, path) from err
        raise


def strict_json(value: Any) -> Any:
    """value with NaN and infinities as None, so that json.dumps writes strict JSON (no NaN tokens)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    return value


def dumps_json(value: Any) -> str:
    return json.dumps(strict_json(value), indent=2, allow_nan=False) + "\n"


def write_json(path: Path, value: Any) -> None:
    write_atomic(path, dumps_json(value))


def output_file(path: Path, option: str, force: bool = False) -> Path:
    """Check a file the user asked us to write: its folder exists and is writable, and an existing file is
    replaced only with force. The one rule for every output option (--plot, --md, --out)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{option} {path}: is a folder; name a file inside it")
    if path.exists() and not force:
        raise InputError(f"{option} {path}: already exists; choose another name, or add --force to replace it")
    folder = path.parent
    if not folder.is_dir():
        raise InputError(f"{option} {path}: folder {folder} does not exist; create it first or choose another path")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: folder {folder} is not writable; choose another path")
    return path


def output_folder(path: Path, option: str) -> Path:
    """A folder we may create files in (created if missing); a file in the way or no permission is one line."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"{option} {path}: cannot create this folder ({err.strerror or err})") from err
    if not os.access(path, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: folder is not writable; choose another")
    return path


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise RunError(f"{path}: missing") from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunError(f"{path}: not readable JSON ({err})") from err


def csv_text(rows: list[dict[str, Any]], header: bool = True) -> str:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        if header:
            writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue()


def json_rows(rows: list[dict[str, Any]], first: bool = True) -> str:
    """Rows as the items of a JSON list (without the brackets), each after a comma unless they are the first."""
    return ("" if first else ",") + ",".join(json.dumps(row) for row in rows)


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    write_atomic(path, csv_text(rows))


class GrowingText:
    """The text of a list of rows that only grows (a run's history and steps, rewritten after every epoch),
    formatted a row at a time: each call formats only the rows added since the last one. Formatting every row
    every epoch made a 400-epoch run of a small set spend a third of its time on it."""

    def __init__(self, format_rows: Callable[[list[dict[str, Any]], bool], str]) -> None:
        self.format_rows = format_rows  # (new rows, whether they are the first) -> their text: csv_text, json_rows
        self.rows: list[dict[str, Any]] | None = None  # the list formatted last time, and how much of it
        self.formatted, self.text = 0, ""

    def __call__(self, rows: list[dict[str, Any]]) -> str:
        if rows is not self.rows or len(rows) < self.formatted:  # another list: format it all
            self.rows, self.formatted, self.text = rows, 0, ""
        if len(rows) > self.formatted:
            self.text += self.format_rows(rows[self.formatted:], self.formatted == 0)
            self.formatted = len(rows)
        return self.text


def unused_path(path: Path, companions: tuple[str, ...] = ()) -> Path:
    """path, or path-2, path-3, ... : a default output name never replaces a file the user has (nor, with
    companions such as (".gif",), the files of the same name with those suffixes written beside it)."""
    candidate, number = path, 2
    while any(p.exists() for p in (candidate, *(candidate.with_suffix(suffix) for suffix in companions))):
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
        number += 1
    return candidate
