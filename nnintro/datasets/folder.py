"""Image folders: one sub-folder per class (ImageFolder's convention), optionally under train/, test/, val/.

Every image is decoded once (on every core), converted to one size and mode, and kept as uint8 tensors,
the same fast path as MNIST. The decoded tensors are cached, keyed by the file list with sizes and
modification times, so a second run starts in about the time it takes to read them back.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnintro.datasets.base import RawDataset, Split
from nnintro.datasets.cache import cache_folder, read_tensors, write_tensors
from nnintro.datasets.decode import IMAGE_EXTENSIONS, DecodeError, decode_image, probe
from nnintro.errors import DataError
from nnintro.tasks import Classification

SPLIT_FOLDERS = ("train", "val", "test")
MAX_DATASET_BYTES = 8 * 1024**3  # decoded uint8 pixels; beyond this a smaller data.image_size is needed
CACHE_VERSION = 2  # 2: a checksum of the contents is recorded with them


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def _class_folders(folder: Path) -> list[Path]:
    """The class sub-folders; a link back to the folder itself (or above it), or two names for one folder, would
    be a class holding every image, or one class twice: refused."""
    try:
        found = sorted(p for p in folder.iterdir() if p.is_dir() and _visible(p))
    except OSError as err:
        raise DataError(f"{folder}: cannot list this folder ({err.strerror or err})") from err
    here, seen = folder.resolve(), {}
    for path in found:
        real = path.resolve()
        if real == here or real in here.parents:
            raise DataError(f"{path}: links back to {real}, which holds the class folders themselves; remove the link")
        if real in seen:
            raise DataError(f"{path} and {seen[real]} are the same folder ({real}); one class under two names "
                            f"would be a duplicate class; remove one")
        seen[real] = path
    return found


def _images_in(folder: Path) -> list[Path]:
    """Image files by extension, in a stable order; README.txt, .DS_Store, Thumbs.db and the like are ignored."""
    try:
        return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
                      and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    except OSError as err:
        raise DataError(f"{folder}: cannot list this folder ({err.strerror or err})") from err


def find_images(root: Path) -> tuple[list[str], dict[str, list[tuple[Path, int]]]]:
    """Class names and, per split folder present (train/val/test, or the whole root as 'all'), (file, label)."""
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "no such folder"
        raise DataError(f"data.root {root}: {what}; give a folder with one sub-folder of images per class")
    layout = {name: root / name for name in SPLIT_FOLDERS if (root / name).is_dir()}
    if "train" not in layout:
        layout = {"all": root}
    classes = [p.name for p in _class_folders(layout.get("train", root))]
    if not classes:
        loose = _images_in(root)
        hint = f" ({len(loose)} images lie there loose)" if loose else ""
        raise DataError(f"data.root {root}: no class sub-folders{hint}; put each class's images in a sub-folder "
                        f"named after it, e.g. {root}/cat/1.jpg")
    if len(classes) < 2:
        raise DataError(f"data.root {root}: only one class ('{classes[0]}'); a classifier needs at least two "
                        f"class sub-folders")
    index = {name: i for i, name in enumerate(classes)}
    splits: dict[str, list[tuple[Path, int]]] = {}
    for split, folder in layout.items():
        items = []
        for class_folder in _class_folders(folder):
            if class_folder.name not in index:
                raise DataError(f"{class_folder}: class '{class_folder.name}' is not among the training classes "
                                f"({', '.join(classes)})")
            files = _images_in(class_folder)
            if not files and split in ("all", "train"):
                raise DataError(f"{class_folder}: no images (looked for {', '.join(sorted(IMAGE_EXTENSIONS))}); "
                                f"add some or remove the folder")
            items += [(path, index[class_folder.name]) for path in files]
        if not items:
            raise DataError(f"{folder}: no images in its class sub-folders")
        splits[split] = items
    return classes, splits


def _parallel(function: Callable[[Path], Any], paths: list[Path], label: str) -> list[Any]:
    """function over paths on every core (Pillow decodes without the GIL), with progress on a terminal.
    Each result is the value, or the DecodeError it raised."""
    def safe(path: Path) -> Any:
        try:
            return function(path)
        except DecodeError as err:
            return err

    workers = min(32, (os.cpu_count() or 1) * 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(safe, paths, chunksize=64)
        if not sys.stderr.isatty():
            return list(results)
        from rich.console import Console
        from rich.progress import track

        return list(track(results, total=len(paths), description=label, console=Console(stderr=True),
                          transient=True))


def _choose_shape(paths: list[Path], probes: list[Any], cfg: Any) -> tuple[int, int, int, list[str]]:
    """(channels, height, width) and a note for each choice that was not configured."""
    readable = [p for p in probes if not isinstance(p, DecodeError)]
    if not readable:
        raise DataError(f"data.root {cfg.root}: none of the {len(paths)} image files can be decoded")
    notes = []
    sizes = Counter((h, w) for h, w, _ in readable)
    if cfg.image_size is None:
        (height, width), count = sizes.most_common(1)[0]
        other = len(readable) - count
        notes.append(f"images resized to {height}x{width}, the most common size"
                     + (f" ({other} of {len(readable)} differ)" if other else "")
                     + "; set another with --set \"data.image_size=[H, W]\"")
    else:
        height, width = cfg.image_size
    channels = cfg.channels
    if channels is None:
        coloured = sum(colour for _, _, colour in readable)
        channels = 3 if coloured else 1
        notes.append(f"{'RGB (' + str(coloured) + ' images have colour)' if coloured else 'grayscale (no image has colour)'}"
                     f"; set with --set data.channels=1 or 3")
    return channels, height, width, notes


def _cache_key(files: list[Path], cfg: Any) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps([CACHE_VERSION, str(Path(cfg.root).resolve()), cfg.image_size, cfg.channels,
                              cfg.bad_files]).encode())
    for path in files:
        stat = path.stat()
        digest.update(f"\n{path}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:32]


def _load_cache(path: Path, classes: int) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None | str:
    """The cached tensors and notes, None when there is no cache, or why a cache there cannot be trusted (then it
    is decoded again): read_tensors' checks, and sane labels and records."""
    cached = read_tensors(path)
    if not isinstance(cached, tuple):
        return cached
    tensors, meta = cached
    x, y, split = tensors.get("x"), tensors.get("y"), tensors.get("split")
    sane = (x is not None and y is not None and split is not None and x.dtype == torch.uint8 and x.dim() == 4
            and len(x) == len(y) == len(split) and (len(y) == 0 or 0 <= int(y.min()) <= int(y.max()) < classes)
            and isinstance(meta.get("notes"), list) and isinstance(meta.get("skipped"), list))
    return (tensors, meta) if sane else "its labels or records are not what this folder holds"


def _decode_all(items: list[tuple[Path, int]], split_of: list[int], cfg: Any) -> tuple[dict[str, torch.Tensor], dict]:
    paths = [path for path, _ in items]
    probes = _parallel(probe, paths, "reading image headers")
    channels, height, width, notes = _choose_shape(paths, probes, cfg)
    if len(paths) * channels * height * width > MAX_DATASET_BYTES:
        raise DataError(f"data.root {cfg.root}: {len(paths):,} images of {channels}x{height}x{width} need "
                        f"{len(paths) * channels * height * width / 2**30:.1f} GiB; set a smaller "
                        f"--set \"data.image_size=[H, W]\"")
    decoded = _parallel(lambda p: decode_image(p, channels, height, width), paths, f"decoding {len(paths)} images")
    bad = [(path, result) for path, result in zip(paths, decoded) if isinstance(result, DecodeError)]
    if bad and cfg.bad_files == "error":
        path, err = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise DataError(f"{path}: {err}{more}; remove it, or skip such files with --set data.bad_files=skip")
    keep = [i for i, result in enumerate(decoded) if not isinstance(result, DecodeError)]
    x = torch.from_numpy(np.stack([decoded[i] for i in keep])) if keep else torch.empty(0, channels, height, width,
                                                                                          dtype=torch.uint8)
    tensors = {"x": x, "y": torch.tensor([items[i][1] for i in keep], dtype=torch.long),
               "split": torch.tensor([split_of[i] for i in keep], dtype=torch.uint8)}
    if bad:
        listed = ", ".join(str(path) for path, _ in bad[:5]) + (", ..." if len(bad) > 5 else "")
        notes.append(f"skipped {len(bad)} file(s) that cannot be decoded: {listed}")
    return tensors, {"notes": notes, "skipped": [str(path) for path, _ in bad]}


def load_image_folder(cfg: Any, seed: int) -> RawDataset:
    root = Path(cfg.root)
    classes, splits = find_images(root)
    names = list(splits)
    items = [item for name in names for item in splits[name]]
    split_of = [names.index(name) for name in names for _ in splits[name]]
    files = [path for path, _ in items]
    cache_path = cache_folder() / "folders" / f"{_cache_key(files, cfg)}.safetensors"
    cached = _load_cache(cache_path, len(classes))
    if isinstance(cached, tuple):
        tensors, meta = cached
        meta["notes"] = [*meta["notes"], f"decoded images read from the cache {cache_path}"]
    else:
        tensors, meta = _decode_all(items, split_of, cfg)
        write_tensors(cache_path, tensors, meta)
        if cached is not None:
            meta["notes"] = [*meta["notes"], f"the image cache {cache_path} was not used ({cached}): decoded again"]
    by_split = {name: Split(tensors["x"][tensors["split"] == i], tensors["y"][tensors["split"] == i])
                for i, name in enumerate(names)}
    notes = list(meta["notes"])
    if "test" not in by_split:
        source = by_split.pop("all" if "all" in by_split else "train")
        by_split["train"], by_split["test"] = stratified_split(source, cfg.test_fraction, str(root))
        notes.append(f"no test/ folder: {len(by_split['test'])} images ({cfg.test_fraction:g}) held out for testing")
    for name, split in by_split.items():
        if len(split) < 2:
            raise DataError(f"data.root {root}: the {name} split has {len(split)} usable image(s); at least 2 needed")
    return RawDataset(by_split["train"], by_split["test"], Classification(classes), scale=1 / 255, kind="image",
                      val=by_split.get("val"), notes=notes)


def stratified_split(split: Split, fraction: float, source: str) -> tuple[Split, Split]:
    """(rest, held out): about `fraction` of every class held out, the same draw whatever the run's seed, so
    every run on a folder is scored on the same test images."""
    from sklearn.model_selection import train_test_split

    from nnintro.datasets.tabular import TEST_SPLIT_SEED

    labels = split.y.numpy()
    counts = np.bincount(labels)
    present = counts[counts > 0]
    stratify = labels if present.min() >= 2 and round(len(labels) * fraction) >= len(present) else None
    if len(labels) < 4:
        raise DataError(f"{source}: {len(labels)} images; at least 4 are needed to train, validate and test")
    rest, held = train_test_split(np.arange(len(labels)), test_size=fraction, random_state=TEST_SPLIT_SEED,
                                  stratify=stratify)
    rest, held = torch.from_numpy(np.sort(rest)), torch.from_numpy(np.sort(held))
    return Split(split.x[rest], split.y[rest]), Split(split.x[held], split.y[held])
