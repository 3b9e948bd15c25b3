"""The committed ruff configuration holds for the whole tree, so style stays one style."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff comes with the test extras")
def test_ruff_check_passes():
    result = subprocess.run(["ruff", "check", "nnintro", "tests", "bench"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
