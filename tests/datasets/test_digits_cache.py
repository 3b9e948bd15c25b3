"""The offline default's split is scikit-learn's, made once and read back from the cache folder without
importing scikit-learn; a damaged or edited cache is rebuilt, never trained on."""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nnintro.datasets.cache import write_tensors
from nnintro.datasets.digits import _split_with_sklearn, digits_split

LOAD = """
import hashlib, sys
from nnintro.datasets.digits import load_digits_dataset
raw = load_digits_dataset()
digest = hashlib.sha256(b"".join(t.numpy().tobytes() for t in (raw.train.x, raw.train.y, raw.test.x, raw.test.y)))
print("sklearn" in sys.modules, digest.hexdigest())
"""


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    parts = (tensors[name] for name in ("train_x", "train_y", "test_x", "test_y"))
    return hashlib.sha256(b"".join(t.numpy().tobytes() for t in parts)).hexdigest()


def test_the_second_load_reads_scikit_learns_split_without_importing_it(tmp_path):
    def load() -> list[str]:
        done = subprocess.run([sys.executable, "-c", LOAD], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    for seeded in Path("cache").glob("digits-*.safetensors"):  # the copy every test's cache folder starts with
        seeded.unlink()
    expected = _digest(_split_with_sklearn())
    assert load() == ["True", expected]  # made with scikit-learn, then kept
    assert load() == ["False", expected]  # read back: the same tensors, and scikit-learn never imported
    assert len(list(Path("cache").glob("digits-*.safetensors"))) == 1


def _cache_file() -> Path:
    digits_split()
    (path,) = Path("cache").glob("digits-*.safetensors")
    return path


def _truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:1000])


def _one_pixel_changed(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-7] ^= 0x01
    path.write_bytes(bytes(data))


def _relabelled_with_its_checksum(path: Path) -> None:
    tensors = _split_with_sklearn()
    tensors["train_y"][0] = 12
    write_tensors(path, tensors, {})


def _fewer_images_with_their_checksum(path: Path) -> None:
    tensors = _split_with_sklearn()
    tensors["test_x"], tensors["test_y"] = tensors["test_x"][:10], tensors["test_y"][:10]
    write_tensors(path, tensors, {})


@pytest.mark.parametrize("damage", [_truncated, _one_pixel_changed, _relabelled_with_its_checksum,
                                    _fewer_images_with_their_checksum])
def test_a_damaged_or_edited_cache_is_rebuilt(damage):
    expected = _digest(_split_with_sklearn())
    path = _cache_file()
    damage(path)
    assert _digest(digits_split()) == expected
    assert _digest(digits_split()) == expected  # and the cache holds the right split again
    assert path.stat().st_size > 100_000
