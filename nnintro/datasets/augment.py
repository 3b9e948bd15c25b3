"""On-device augmentation of training batches: random translation (the random crop with padding), horizontal
flip, small affine (rotation, scale, shear), elastic distortion, cutout and mixup. Each is one vectorised
operation over the whole batch on the batch's device: no per-sample Python, no DataLoader workers. Random draws
come from torch's global generator, which every checkpoint saves and restores, so a resumed run draws what an
uninterrupted one would."""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F


class Augmenter:
    def __init__(self, config: Any, fill: list[float]) -> None:
        """config: data.augment; fill: the raw value per channel that cutout writes (the training mean)."""
        self.config = config
        self.fill = torch.tensor(fill, dtype=torch.float32).view(1, -1, 1, 1)
        self.geometric = bool(config.shift or config.rotate or config.scale or config.shear or config.elastic)

    @classmethod
    def for_data(cls, config: Any, normalization: dict[str, Any]) -> Augmenter | None:
        """The training split's augmenter (None when data.augment is all off); cutout fills with the raw value
        the model's standardization maps to 0, the training mean."""
        fill = [mean / normalization["scale"] for mean in normalization["mean"]]
        return cls(config, fill) if config.enabled else None

    def batch(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, float] | None]:
        """A training batch as the network sees it, and mixup's (partner of each sample, lambda) or None."""
        x = self(x)
        mixed = self.mix(x)
        return (x, None) if mixed is None else (mixed[0], mixed[1:])

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """A batch of images (B, C, H, W), uint8 or float, -> the augmented batch (float, the same raw scale)."""
        c = self.config
        if not (self.geometric or c.flip or c.cutout):
            return x
        x = x.float()
        if self.geometric:
            x = F.grid_sample(x, self._grid(x), mode="bilinear", padding_mode="zeros", align_corners=False)
        if c.flip:
            flipped = torch.rand(len(x), 1, 1, 1, device=x.device) < 0.5
            x = torch.where(flipped, x.flip(-1), x)
        if c.cutout:
            x = self._cutout(x)
        return x

    def _grid(self, x: torch.Tensor) -> torch.Tensor:
        """Where each output pixel samples the input: one affine map per image (+ a smooth random field)."""
        c = self.config
        batch, _, height, width = x.shape
        device = x.device

        def uniform(limit: float) -> torch.Tensor:
            return (torch.rand(batch, device=device) * 2 - 1) * limit

        angle, shear = uniform(math.radians(c.rotate)), uniform(math.radians(c.shear))
        zoom = 1 + uniform(c.scale)
        theta = torch.zeros(batch, 2, 3, device=device)
        theta[:, 0, 0] = torch.cos(angle) / zoom
        theta[:, 0, 1] = -torch.sin(angle + shear) / zoom
        theta[:, 1, 0] = torch.sin(angle) / zoom
        theta[:, 1, 1] = torch.cos(angle + shear) / zoom
        if c.shift:  # whole pixels, so a pure shift copies pixels exactly (the classic crop with padding)
            shifts = torch.randint(-c.shift, c.shift + 1, (batch, 2), device=device).float()
            theta[:, 0, 2] = shifts[:, 0] * 2 / width
            theta[:, 1, 2] = shifts[:, 1] * 2 / height
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        if c.elastic:
            grid = grid + self._elastic_field(batch, height, width, device)
        return grid

    def _elastic_field(self, batch: int, height: int, width: int, device: torch.device) -> torch.Tensor:
        """Simard et al. (2003): a smooth random displacement field whose largest displacement is `elastic`
        pixels, in grid units (B, H, W, 2). Smoothness comes from drawing uniform noise on a coarse grid, one
        point per elastic_sigma pixels, and interpolating it bicubically: the same kind of field as Gaussian-
        filtered per-pixel noise, at a fraction of the cost."""
        c = self.config
        coarse = (max(2, round(height / c.elastic_sigma)), max(2, round(width / c.elastic_sigma)))
        noise = torch.rand(batch, 2, *coarse, device=device) * 2 - 1
        field = F.interpolate(noise, size=(height, width), mode="bicubic", align_corners=True)
        field = field / field.abs().amax(dim=(2, 3), keepdim=True).clamp_min(1e-6) * c.elastic
        return field.permute(0, 2, 3, 1) * torch.tensor([2 / width, 2 / height], device=device)

    def _cutout(self, x: torch.Tensor) -> torch.Tensor:
        """A square of cutout pixels per image, at a random centre (it may hang over the edge), set to the fill."""
        size = self.config.cutout
        batch, _, height, width = x.shape
        rows = torch.arange(height, device=x.device).view(1, -1, 1)
        cols = torch.arange(width, device=x.device).view(1, 1, -1)
        centre_y = torch.randint(0, height, (batch, 1, 1), device=x.device)
        centre_x = torch.randint(0, width, (batch, 1, 1), device=x.device)
        inside = ((rows - centre_y).abs() * 2 < size) & ((cols - centre_x).abs() * 2 < size)
        return torch.where(inside.unsqueeze(1), self.fill.to(x.device), x)

    def mix(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float] | None:
        """mixup (Zhang et al. 2018): each image blended with another of the batch, lambda ~ Beta(a, a); returns
        the blended batch, the partner of each sample and lambda (the loss mixes the two targets' losses the same
        way), or None when mixup is off."""
        alpha = self.config.mixup
        if not alpha:
            return None
        mixing = float(torch.distributions.Beta(alpha, alpha).sample())
        partner = torch.randperm(len(x), device=x.device)
        return x.float() * mixing + x[partner].float() * (1 - mixing), partner, mixing


def augmented_examples(augmenter: Augmenter, images: torch.Tensor, variants: int = 5) -> torch.Tensor:
    """Each image (N, C, H, W) followed by `variants` augmented versions of it, as the network sees them:
    (N * (variants + 1), C, H, W) raw floats. Drawn from a forked generator: training's random stream is
    untouched."""
    with torch.random.fork_rng(devices=[images.device] if images.device.type == "cuda" else []):
        torch.manual_seed(0)
        rows = []
        for image in images:
            copies = image.unsqueeze(0).expand(variants, *image.shape)
            augmented = augmenter(copies)
            if mixed := augmenter.mix(torch.cat([augmented, images.float()])):
                augmented = mixed[0][:variants]
            rows += [image.float().unsqueeze(0), augmented]
        return torch.cat(rows)
