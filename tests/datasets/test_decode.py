"""Image decoding audited against what users' folders really hold: bombs, 16-bit gray, floating-point images."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import png_claiming
from PIL import Image

from nnintro.datasets.decode import DecodeError, decode_image, probe


def test_a_decompression_bomb_is_a_bad_file_not_an_internal_error(tmp_path):
    bomb = png_claiming(tmp_path / "bomb.png", 20_000, 20_000)
    for read in (lambda: probe(bomb), lambda: decode_image(bomb, 1, 28, 28)):
        with pytest.raises(DecodeError, match="too large|not a readable image"):
            read()


def test_sixteen_bit_gray_is_scaled_to_eight_bits_not_clipped_to_white(tmp_path):
    ramp = (np.linspace(0, 65535, 64 * 64).reshape(64, 64)).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    pixels = decode_image(tmp_path / "deep.png", 1, 64, 64)[0]
    assert pixels.min() == 0 and pixels.max() == 255 and 120 < pixels.mean() < 135
    rgb = decode_image(tmp_path / "deep.png", 3, 64, 64)
    assert rgb.shape == (3, 64, 64) and rgb[0].mean() == pytest.approx(pixels.mean(), abs=1)


def test_a_floating_point_image_is_refused_with_the_reason(tmp_path):
    Image.fromarray(np.random.default_rng(0).random((8, 8)).astype(np.float32), mode="F").save(tmp_path / "f.tiff")
    with pytest.raises(DecodeError, match="floating-point image"):
        decode_image(tmp_path / "f.tiff", 1, 8, 8)
