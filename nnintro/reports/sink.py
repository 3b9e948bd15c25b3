"""Where report pictures go: PNG files in a folder and, when given a writer, TensorBoard's Images tab."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from nnintro.files import write_atomic
from nnintro.reports import plots


class FigureSink:
    """Saves each figure as PNG in a folder and, optionally, as an image in TensorBoard."""

    def __init__(self, folder: Path, writer: Any = None, step: int = 0) -> None:
        self.folder, self.writer, self.step = folder, writer, step

    def __call__(self, name: str, figure) -> None:
        png = plots.png_bytes(figure)
        write_atomic(self.folder / f"{name}.png", png)
        if self.writer is not None:
            from PIL import Image

            image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
            self.writer.add_image(f"reports/{name}", image, self.step, dataformats="HWC")
