"""User files for predict: images of any size and mode (or .npy arrays), or CSV rows for table runs,
converted as the run's data was."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnintro.errors import InputError
from nnintro.files import check_file

MAX_FILE_BYTES = 64 * 1024 * 1024
MNIST_INK_BOX = 20 / 28  # MNIST's digits fill a 20x20 box in their 28x28 frame; a family may record its own


def _read_image(path: Path, channels: int, height: int, width: int) -> np.ndarray:
    """Decode, convert to grayscale or RGB, resize to the model's input; values 0..255, shape (C, H, W)."""
    from nnintro.datasets.decode import DecodeError, decode_image

    try:
        return decode_image(path, channels, height, width).astype(np.float32)
    except DecodeError as err:
        raise InputError(f"{path}: {err}") from err


def _read_array(path: Path, shape: list[int]) -> np.ndarray:
    """A .npy file whose header is checked against the model's input before any data is read: a header
    may claim any shape, and numpy would allocate it."""
    try:
        with path.open("rb") as handle:
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(np.lib.format.read_magic(handle))
            if read_header is None:
                raise InputError(f"{path}: unsupported .npy format version")
            header_shape, _, dtype = read_header(handle, max_header_size=10_000)
            if dtype.kind not in "biuf":
                raise InputError(f"{path}: array must be numeric, got {dtype}")
            if int(np.prod(header_shape, dtype=object)) != int(np.prod(shape)):
                raise InputError(f"{path}: array shape {list(header_shape)[:8]} does not fit the model's input {shape}")
            array = np.load(path, allow_pickle=False)
    except InputError:
        raise
    except (OSError, ValueError, EOFError, TypeError, SyntaxError) as err:
        raise InputError(f"{path}: not a readable .npy array ({str(err)[:120]})") from err
    return check_array(array, shape, str(path))


def check_array(array: np.ndarray, shape: list[int], where: str) -> np.ndarray:
    """One model input from an array of the input's shape (or H, W, C, or the same numbers flat), as float32;
    refused when it does not fit or holds NaN or infinities. where: what the message calls the array."""
    if list(array.shape) != shape:
        if array.ndim == 3 and list(array.shape) == [shape[1], shape[2], shape[0]]:
            array = array.transpose(2, 0, 1)  # H, W, C as images are usually stored
        elif array.size == int(np.prod(shape)) and array.ndim < len(shape) + 1:
            array = array.reshape(shape)
        else:
            raise InputError(f"{where}: array shape {list(array.shape)} does not fit the model's input {shape}")
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        raise InputError(f"{where}: array holds NaN or infinite values")
    return array


def center_like_mnist(pixels: np.ndarray, height: int, width: int, ink_box: float = MNIST_INK_BOX) -> np.ndarray:
    """MNIST's own preprocessing for a drawing (light ink on dark, any size): crop to the ink, scale its longer
    side to ink_box of the frame keeping the aspect, and place it so its centre of mass is the frame's centre."""
    from PIL import Image

    ink = pixels > 0.2 * pixels.max() if pixels.max() > 0 else np.zeros_like(pixels, dtype=bool)
    if not ink.any():
        return np.asarray(Image.fromarray(pixels.astype(np.uint8)).resize((width, height)), dtype=np.float32)
    rows, columns = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    crop = pixels[rows[0]:rows[-1] + 1, columns[0]:columns[-1] + 1]
    box = ink_box * min(height, width)
    factor = box / max(crop.shape)
    size = (max(1, round(crop.shape[1] * factor)), max(1, round(crop.shape[0] * factor)))
    small = np.asarray(Image.fromarray(crop.astype(np.uint8)).resize(size, Image.Resampling.LANCZOS), np.float32)
    total = small.sum() or 1.0
    centre_y = (small.sum(1) * np.arange(small.shape[0])).sum() / total
    centre_x = (small.sum(0) * np.arange(small.shape[1])).sum() / total
    top = int(np.clip(round(height / 2 - centre_y), 0, height - small.shape[0]))
    left = int(np.clip(round(width / 2 - centre_x), 0, width - small.shape[1]))
    frame = np.zeros((height, width), np.float32)
    frame[top:top + small.shape[0], left:left + small.shape[1]] = small
    return frame


def load_input(path: Path, model_info: dict[str, Any], invert: bool = False,
               center: bool = False) -> tuple[torch.Tensor, dict[str, Any]]:
    """One input in the raw units of the run's training data (the model standardizes it itself), and notes
    for the user (a light background on a light-on-dark model; the centring done)."""
    check_file(path, "", MAX_FILE_BYTES, InputError)
    shape = model_info["architecture"]["input_shape"]
    scale = model_info["architecture"]["normalization"]["scale"]
    if path.suffix.lower() == ".npy":
        return torch.from_numpy(_read_array(path, shape)), {}
    if model_info.get("data_kind") != "image" or len(shape) != 3:
        raise InputError(f"{path}: this run's model takes {shape[0]} numbers, not an image; give a .npy file")
    notes: dict[str, Any] = {}
    if center and shape[0] == 1:
        from nnintro.datasets.decode import DecodeError, probe

        try:
            native = probe(path)
        except DecodeError as err:
            raise InputError(f"{path}: {err}") from err
        pixels = _read_image(path, 1, native[0], native[1])[0]
        ink_box = model_info.get("inputs", {}).get("ink_box", MNIST_INK_BOX)
        pixels = center_like_mnist(255.0 - pixels if invert else pixels, shape[1], shape[2], ink_box)[None]
        notes["centered"] = (f"cropped to the ink, scaled to {ink_box * shape[1]:g}/{shape[1]} of the frame, centred by "
                             f"mass (as the training digits)")
    else:
        pixels = _read_image(path, *shape)
        if invert:
            pixels = 255.0 - pixels
    if shape[0] == 1 and not invert and float(pixels.mean()) > 127:
        notes["hint"] = "mostly light: this model was trained on light strokes on a dark background; try --invert"
    # pixels are 0..255; the training data's raw units are pixels/255/scale (0..255 for MNIST, 0..16 for digits)
    return torch.from_numpy(pixels / 255.0 / scale), notes


def read_inputs(path: Path, model_info: dict[str, Any], invert: bool = False,
                center: bool = False) -> tuple[torch.Tensor, list[dict[str, Any]]]:
    """A batch of model inputs from one file, and a record per row: a table run reads every row of a CSV
    (each with its line number, and its true target where the file has that column); others read one input."""
    if model_info.get("data_kind") == "table":
        from nnintro.datasets.tabular import read_rows

        if path.suffix.lower() not in (".csv", ".tsv", ".txt"):
            raise InputError(f"{path}: this run's model reads table rows; give a CSV file with the columns "
                             f"it was trained on")
        return read_rows(path, model_info["inputs"])
    x, notes = load_input(path, model_info, invert, center)
    return x.unsqueeze(0), [notes]
