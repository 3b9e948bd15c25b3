"""The one exception family: each error carries the single line a user sees."""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class NnintroError(Exception):
    """A mistake in what the user gave us; the CLI prints the message and exits 2."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        # user-supplied text (keys, values, file names) may hold newlines; the message stays one line
        super().__init__("".join(c if c.isprintable() else repr(c)[1:-1] for c in str(message)))


class ConfigError(NnintroError):
    """A config file, a field or a --set override is invalid."""


class DataError(NnintroError):
    """Dataset files are missing, truncated or corrupt."""


class RunError(NnintroError):
    """A run directory or checkpoint is missing, unreadable or does not fit."""


class InputError(NnintroError):
    """A file given to predict (or similar) cannot be used."""


class StorageError(NnintroError):
    """The disk refused a write (full, read-only, no permission): the environment, not a bug."""


STORAGE_ERRNOS = (28, 122, 30, 13, 1)  # ENOSPC, EDQUOT, EROFS, EACCES, EPERM


def storage_error(err: OSError, path: object) -> StorageError:
    """One line for a refused write: where, why, and what to do."""
    from pathlib import Path

    where = Path(str(path))
    fix = ("free some space there (old run folders can go) or write elsewhere with --runs-dir"
           if err.errno in (28, 122) else "make it writable or write elsewhere with --runs-dir")
    return StorageError(f"{where.parent}: cannot write {where.name} ({err.strerror or err}); {fix}")


class DeviceError(NnintroError):
    """The requested device or precision is not available here."""


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """Return "; did you mean 'x'?" for the nearest valid choice, or "" if nothing is close."""
    close = difflib.get_close_matches(str(value), list(choices), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""
