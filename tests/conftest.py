"""Shared fixtures: small datasets written in the real on-disk formats (IDX, CIFAR pickles)."""
from __future__ import annotations

import gzip
import os
import pickle
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):
    # the workers share the machine's cores: one torch thread each, and in every CLI they start (torch reads it
    # when first imported, after this), or their OpenMP threads spin against each other's
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def learnable_images(n: int, shape: tuple[int, ...], seed: int, classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Noisy images whose class is written as a bright stripe at a class-specific row: easy to learn."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n).astype(np.uint8)
    images = rng.integers(0, 60, (n, *shape)).astype(np.uint8)
    rows = shape[-2]
    for i, label in enumerate(labels):
        row = int(label) * rows // classes
        images[i, ..., row:row + 2, :] = 230
    return images, labels


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> Path:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as handle:
            handle.write(payload)
    else:
        path.write_bytes(payload)
    return path


def make_idx_dataset(root: Path, folder: str = "MNIST", n_train: int = 600, n_test: int = 200,
                     compress: bool = True) -> Path:
    raw = root / folder / "raw"
    for prefix, n, seed in (("train", n_train, 1), ("t10k", n_test, 2)):
        images, labels = learnable_images(n, (28, 28), seed)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images, compress)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels, compress)
    return raw


def write_cifar_batch(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    batch = {b"batch_label": b"testing", b"labels": [int(v) for v in labels],
             b"data": images.reshape(len(images), -1), b"filenames": [b"x.png"] * len(labels)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(batch, protocol=2))


def make_cifar(root: Path, per_batch: int = 60, n_test: int = 100) -> Path:
    folder = root / "cifar-10-batches-py"
    for index in range(1, 6):
        write_cifar_batch(folder / f"data_batch_{index}", *learnable_images(per_batch, (3, 32, 32), index))
    write_cifar_batch(folder / "test_batch", *learnable_images(n_test, (3, 32, 32), 9))
    meta = {b"label_names": [b"airplane"], b"num_cases_per_batch": per_batch}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return folder


@pytest.fixture
def mnist_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    make_idx_dataset(root)
    return root


def make_image_folder(root: Path, classes: tuple[str, ...] = ("cat", "dog", "owl"), per_class: int = 30,
                      size: tuple[int, int] = (16, 16)) -> Path:
    """PHOTOS/<class>/*.png|jpg in the sizes and modes real folders have: mostly RGB at one size, some
    grayscale, some of another size, a README among them. Each class has a bright band at its own rows."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for index, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 60, (*size, 3)).astype(np.uint8)
            row = index * size[0] // len(classes)
            pixels[row:row + 3] = 230
            image = Image.fromarray(pixels)
            if i % 9 == 0:
                image = image.resize((size[1] + 6, size[0] + 4))
            if i % 7 == 0:
                image = image.convert("L")
            image.save(root / name / f"{i}.{'png' if i % 2 else 'jpg'}")
    (root / classes[0] / "README.txt").write_text("not an image")
    return root


def write_table(path: Path, rows: int = 200, seed: int = 0) -> Path:
    """A CSV like a real one: a numeric target (price), numbers, a category, a name column and empty cells."""
    rng = np.random.default_rng(seed)
    area = rng.uniform(30, 200, rows)
    rooms = rng.integers(1, 6, rows)
    city = rng.choice(["Lyon", "Paris", "Nice"], rows)
    price = 3 * area + 20 * rooms + np.where(city == "Paris", 150.0, 0.0) + rng.normal(0, 5, rows)
    lines = ["name,area,rooms,city,price"]
    for i in range(rows):
        rooms_text = "" if i % 25 == 3 else str(rooms[i])
        lines.append(f"house {i},{area[i]:.1f},{rooms_text},{city[i]},{price[i]:.2f}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def _digits_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The digits split as the first digits run caches it, made once per worker: every test's cache folder
    starts with a copy, so the CLIs and kernels the tests start read it instead of importing scikit-learn
    (tests/datasets/test_digits_cache.py removes it to check how it is made)."""
    from nnintro.datasets.digits import digits_split

    folder = tmp_path_factory.mktemp("digits-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NNINTRO_CACHE_DIR", str(folder))
        digits_split()
    (path,) = folder.glob("digits-*.safetensors")
    return path


def start_cache(folder: Path, digits: Path) -> None:
    """A fresh cache folder holding only the digits split made by _digits_cache."""
    folder.mkdir()
    shutil.copy2(digits, folder / digits.name)


@pytest.fixture(autouse=True)
def _quiet_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _digits_cache: Path) -> None:
    """Every test runs in its own folder with its own cache folder, so runs/ and cached data never land in the
    repository or pass from one test to another."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NNINTRO_CACHE_DIR", str(tmp_path / "cache"))
    start_cache(tmp_path / "cache", _digits_cache)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """data.download is on by default: every downloader a test could reach fails at once, as offline.
    Tests that check the download path replace these with fakes of their own."""
    import sklearn.datasets
    import torchvision.datasets

    def offline(*args, **kwargs):
        raise OSError("no network in the tests")

    def files_only(real):  # reading files already there (bench's course loop) still works
        def dataset(*args, download=False, **kwargs):
            return offline() if download else real(*args, download=False, **kwargs)
        return dataset

    for name in ("MNIST", "FashionMNIST", "CIFAR10"):
        monkeypatch.setattr(torchvision.datasets, name, files_only(getattr(torchvision.datasets, name)))
    monkeypatch.setattr(sklearn.datasets, "fetch_california_housing", offline)


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header claims a huge 1-bit image (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """tests/e2e run the real CLI end to end: marked, so `-m "not e2e"` is the fast tier."""
    for item in items:
        if "e2e" in Path(str(item.fspath)).parts:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def _ctrl_c_stops_the_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """Click turns a KeyboardInterrupt inside CliRunner.invoke into exit 1 ("Aborted!"); a Ctrl-C pressed while a
    test trains must stop the whole session instead, as it does outside the CLI runner."""
    from typer.testing import CliRunner

    invoke = CliRunner.invoke

    def invoke_then_stop_on_ctrl_c(self, *args, **kwargs):
        result = invoke(self, *args, **kwargs)
        cause = result.exception
        while cause is not None:
            if isinstance(cause, KeyboardInterrupt):
                pytest.exit("interrupted (Ctrl-C)", returncode=130)
            cause = cause.__context__
        return result

    monkeypatch.setattr(CliRunner, "invoke", invoke_then_stop_on_ctrl_c)


@pytest.fixture(scope="session")
def served_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small finished runs of each data kind for serve's tests: digits MLP and linear (images), XOR (points), a
    generated table (regression): a few seconds in all, trained once per session."""
    import nnintro

    root = tmp_path_factory.mktemp("served")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NNINTRO_CACHE_DIR", str(root / "cache"))
        runs = root / "runs"
        table = write_table(root / "houses.csv")
        quick = {"report.plots": False}  # serve reads no picture: none drawn
        trained = {
            "digits_mlp": nnintro.train("digits_mlp", quick, runs_dir=runs, epochs=4),
            "digits_linear": nnintro.train("digits_linear", quick, runs_dir=runs, epochs=4),
            "xor": nnintro.train("xor_mlp", quick, runs_dir=runs, epochs=20),
            "table": nnintro.train("tabular_mlp", {**quick, "data.path": str(table), "data.target": "price",
                                                   "data.ignore": ["name"], "data.missing": "impute"},
                                   runs_dir=runs, epochs=20),
        }
    return {name: run.path for name, run in trained.items()}
