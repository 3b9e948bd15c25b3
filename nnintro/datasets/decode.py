"""Image decoding shared by image folders (training) and predict: only the formats nnintro means to read.

Pillow picks a decoder by sniffing content, so a PostScript file named .png would go to Ghostscript;
naming the allowed formats keeps every other decoder out. Huge images are refused before decoding (a
decompression bomb is a bad file like any other: data.bad_files=skip skips it); 16-bit gray is scaled to 8 bits.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"}
FORMATS = ["PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM"]
MAX_PIXELS = 40_000_000  # larger images are refused, not decoded (decompression bombs)
GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}
WIDE_MODES = {"I", "I;16", "I;16B", "I;16L"}  # 16-bit gray (Pillow opens a 16-bit PNG as one of these)


class DecodeError(Exception):
    """The file is not an image nnintro can read; the message says why (without the path)."""


def probe(path: Path) -> tuple[int, int, bool]:
    """(height, width, has colour) from the header alone."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=FORMATS) as image:
                _check_size(image)
                return image.height, image.width, image.mode not in GRAY_MODES
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning, OSError,
            SyntaxError, ValueError) as err:
        raise DecodeError(f"not a readable image ({_short(err)})") from err


def _check_size(image: object) -> None:
    if image.width * image.height > MAX_PIXELS:
        raise DecodeError(f"image is {image.width}x{image.height}, too large (at most {MAX_PIXELS:,} pixels)")


def _eight_bits(image: object) -> object:
    """A 16-bit gray image scaled to 8 bits (65535 -> 255), as converting it directly would clip it to white;
    a floating-point image has no agreed range and is refused."""
    from PIL import Image

    if image.mode == "F":
        raise DecodeError("a floating-point image has no agreed range; save it with 8 or 16 bits per channel")
    if image.mode not in WIDE_MODES:
        return image
    values = np.asarray(image, dtype=np.float64)
    return Image.fromarray(np.clip(np.round(values / 257.0), 0, 255).astype(np.uint8), mode="L")


def decode_image(path: Path, channels: int, height: int, width: int) -> np.ndarray:
    """Decode, apply the camera's orientation, convert to gray or RGB, resize: uint8 (C, H, W)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=FORMATS) as image:
                _check_size(image)
                image = _eight_bits(ImageOps.exif_transpose(image)).convert("L" if channels == 1 else "RGB")
                if image.size != (width, height):
                    image = image.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=3.0)
                array = np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise DecodeError(f"not a readable image ({_short(err)})") from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:  # truncated or corrupt image data
        raise DecodeError(f"cannot decode image ({_short(err)})") from err
    return array[None] if channels == 1 else np.ascontiguousarray(array.transpose(2, 0, 1))


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:120].replace(str(Path.cwd()) + "/", "")
