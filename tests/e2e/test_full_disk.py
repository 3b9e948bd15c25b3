"""A disk that fills up (or refuses writes) is the environment, not a bug: one line naming the folder and what to
do, exit 2, and every file already there whole."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nnintro.cli import app

runner = CliRunner()
QUICK = ["--set", "train.epochs=3"]


def fill_disk_after(monkeypatch: pytest.MonkeyPatch, writes: int, code: int = errno.ENOSPC) -> None:
    """Every fsync after the first `writes` fails as a full disk does."""
    real = os.fsync
    count = {"n": 0}

    def fsync(fd: int) -> None:
        count["n"] += 1
        if count["n"] > writes:
            raise OSError(code, os.strerror(code))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.parametrize("writes, stage", [(0, "model.json"), (3, "the first checkpoint"), (12, "an epoch"),
                                           (16, "the pictures")])
def test_a_full_disk_is_one_line_and_leaves_no_half_written_file(monkeypatch, writes, stage):
    fill_disk_after(monkeypatch, writes)
    result = runner.invoke(app, ["train", *QUICK])
    assert result.exit_code == 2, (stage, result.output)
    (line,) = result.output.strip().splitlines()[-1:]
    assert line.startswith("error: ") and "cannot write" in line and "free some space there" in line, line
    assert "internal error" not in result.output
    assert not list(Path("runs").rglob("*.tmp"))  # nothing half-written
    for folder in Path("runs").glob("*"):  # a run kept is one that can go on, or one that finished
        finished = (folder / "metrics.json").is_file()
        assert (folder / "checkpoint.safetensors").is_file()
        assert ("only pictures are missing" if finished else "--resume") in line


def test_a_read_only_folder_says_so(monkeypatch):
    fill_disk_after(monkeypatch, 0, errno.EROFS)
    result = runner.invoke(app, ["train", *QUICK])
    assert result.exit_code == 2 and "make it writable" in result.output, result.output
