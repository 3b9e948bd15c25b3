"""data.augment: each transform does what its name says, on whole batches, and only to image training data."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nnintro.config import load_config
from nnintro.datasets.augment import Augmenter
from nnintro.errors import ConfigError
from nnintro.training.trainer import prepare


def augmenter(**fields) -> Augmenter:
    return Augmenter(load_config(None, [f"data.augment={fields}"]).data.augment, fill=[7.0])


def images(n: int = 16) -> torch.Tensor:
    return torch.randint(1, 255, (n, 1, 12, 12), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)


def shifted(image: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    padded = F.pad(image.float(), (2, 2, 2, 2))
    return padded[..., 2 - dy:2 - dy + 12, 2 - dx:2 - dx + 12]


def test_shift_moves_whole_pixels_with_zero_padding():
    x = images()
    out = augmenter(shift=2)(x)
    for original, moved in zip(x, out):
        candidates = [shifted(original, dx, dy) for dx in range(-2, 3) for dy in range(-2, 3)]
        assert any(torch.allclose(moved, c, atol=1e-3) for c in candidates)  # exact up to float rounding
    assert not torch.equal(out, x.float())  # some image moved


def test_flip_mirrors_about_half_of_the_batch():
    x = images(200)
    out = augmenter(flip=True)(x)
    mirrored = [torch.equal(o, i.float().flip(-1)) for o, i in zip(out, x)]
    assert all(m or torch.equal(o, i.float()) for m, o, i in zip(mirrored, out, x))
    assert 60 < sum(mirrored) < 140


def test_cutout_writes_the_fill_into_one_square():
    out = augmenter(cutout=4)(images())
    filled = out == 7.0
    assert filled.any(dim=(1, 2, 3)).all()  # a square in every image (it may hang over the edge)
    assert filled.sum(dim=(1, 2, 3)).max() <= 16


def test_affine_and_elastic_keep_the_shape_and_change_the_pixels():
    x = images()
    out = augmenter(rotate=15, scale=0.1, shear=5, elastic=2)(x)
    assert out.shape == x.shape and out.dtype == torch.float32 and not torch.allclose(out, x.float())


def test_mixup_blends_each_image_with_a_partner():
    x = images()
    mixed, partner, mixing = augmenter(mixup=0.4).mix(x)
    assert 0 <= mixing <= 1 and sorted(partner.tolist()) == list(range(16))
    assert torch.allclose(mixed, x.float() * mixing + x[partner].float() * (1 - mixing))
    assert augmenter(shift=1).mix(x) is None


def test_only_images_are_augmented():
    with pytest.raises(ConfigError, match="data.augment: only images can be augmented"):
        prepare(load_config(None, ["data.dataset=xor", "data.augment.flip=true"]))
