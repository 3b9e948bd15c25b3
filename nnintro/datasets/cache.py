"""Datasets kept between runs as uint8 tensors in safetensors files under the user's cache folder. Each file
records a checksum of its contents, so a damaged or edited file is noticed and rebuilt, never trained on."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from nnintro.errors import NnintroError
from nnintro.files import write_atomic


def cache_folder() -> Path:
    """NNINTRO_CACHE_DIR, else $XDG_CACHE_HOME/nnintro, else ~/.cache/nnintro (a user with no home folder: one
    in the system's temporary folder)."""
    if os.environ.get("NNINTRO_CACHE_DIR"):
        return Path(os.environ["NNINTRO_CACHE_DIR"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "nnintro"
    try:
        return Path.home() / ".cache" / "nnintro"
    except RuntimeError:
        return Path(tempfile.gettempdir()) / f"nnintro-cache-{os.getuid()}"


def _checksum(tensors: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode() + str(tuple(tensors[name].shape)).encode())
        digest.update(tensors[name].contiguous().numpy().tobytes())
    return digest.hexdigest()


def read_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None | str:
    """The cached tensors and what was recorded with them, None when there is no cache, or why the file there
    cannot be trusted: it must be readable and its contents must match the checksum recorded beside them."""
    from safetensors import SafetensorError, safe_open

    try:
        if not path.is_file():
            return None
        with safe_open(str(path), framework="pt") as handle:
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}
            meta = json.loads(handle.metadata()["nnintro"])
    except (OSError, SafetensorError, KeyError, ValueError, TypeError):
        return "unreadable"
    if not isinstance(meta, dict) or meta.get("checksum") != _checksum(tensors):
        return "its contents do not match the checksum recorded with them"
    return tensors, meta


def write_tensors(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Keep the tensors for the next run, atomically; a cache that cannot be written only costs that run the time
    to build the data again."""
    from safetensors.torch import save

    tensors = {k: v.contiguous() for k, v in tensors.items()}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, save(tensors, metadata={"nnintro": json.dumps({**meta, "checksum": _checksum(tensors)})}))
    except (OSError, NnintroError):
        pass
