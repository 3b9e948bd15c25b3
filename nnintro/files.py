"""Files the user hands us to read: one check, before reading, that the file is there, not empty, not a folder
and not larger than what the reader is meant for."""
from __future__ import annotations

from pathlib import Path

from nnintro.errors import NnintroError


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
