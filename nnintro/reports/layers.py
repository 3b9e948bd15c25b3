"""Inside the network: a per-layer summary (shapes and parameters, like Keras' model.summary()) and how the
hidden activations behave on the validation split (dead ReLUs, saturated sigmoid/tanh units)."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nnintro.datasets.base import Split
from nnintro.models.layers import PackedLinear, hidden_activations, member_count, readable_names, watching_activations
from nnintro.reports.tables import Column, TableSpec

SATURATING = (nn.Sigmoid, nn.Tanh)
DEAD_WARNING = 0.5  # a layer with more than this share of dead (or saturated) units gets a warning


def layer_table(model: nn.Module, input_shape: list[int]) -> TableSpec:
    """One row per layer: its name, output shape for one input, and parameter count."""
    rows, x = [], torch.zeros(1, *input_shape)
    names = readable_names(model)
    members = member_count(model)
    with torch.inference_mode():
        for index, module in model.named_children():
            x = module(x)
            packed = x.dim() == 3 and any(isinstance(m, PackedLinear) for m in model[: int(index) + 1])
            shape = str(list(x.shape[2:] if packed else x.shape[1:]))  # without the member and sample dimensions
            rows.append({"layer": names[index], "kind": getattr(module, "title", type(module).__name__.removeprefix("Packed")),
                         "output": f"{members} x {shape}" if packed and members > 1 else shape,
                         "params": sum(p.numel() for p in module.parameters())})
    rows.append({"layer": "total", "kind": "", "output": "", "params": sum(r["params"] for r in rows)})
    return TableSpec("layers", [Column("layer", "layer", left=True), Column("kind", "kind", left=True),
                                Column("output", "output shape", left=True), Column("params", "parameters", "{:,}")],
                     rows, section_after={len(rows) - 2})


@torch.inference_mode()
def activation_health(model: nn.Module, split: Split, batch_size: int) -> list[dict[str, Any]]:
    """Per hidden activation layer: the share of units that never fire on the split (ReLU family: output <= 0
    for every sample) or that are saturated on average (sigmoid/tanh: outputs within 1% of their limits)."""
    names = readable_names(model)
    activations = hidden_activations(model)
    if not activations or not len(split):
        return []
    fired: dict[str, torch.Tensor] = {}
    saturated: dict[str, torch.Tensor] = {}

    def record(index: str, module: nn.Module, out: torch.Tensor) -> None:
        out = out.float().movedim(-2, 0).flatten(1)  # (samples, units of every member)
        if isinstance(module, SATURATING):
            low, high = (0.0, 1.0) if isinstance(module, nn.Sigmoid) else (-1.0, 1.0)
            near = ((out - low).abs() < 0.01 * (high - low)) | ((high - out).abs() < 0.01 * (high - low))
            saturated[index] = saturated.get(index, 0) + near.float().sum(0)
        fired[index] = fired.get(index, torch.zeros(out.shape[1], dtype=torch.bool, device=out.device)) | \
            (out > 0).any(0)

    with watching_activations(model, record):
        for start in range(0, len(split), batch_size):
            model(split.x[start:start + batch_size])
    report = []
    for index, module in activations:
        units = fired[index].numel()
        if isinstance(module, SATURATING):
            share = float((saturated[index] / len(split)).mean())
            report.append({"layer": names[index], "units": units, "saturated": round(share, 4)})
        else:
            report.append({"layer": names[index], "units": units, "dead": round(1 - float(fired[index].float().mean()), 4)})
    return report


def health_warnings(report: list[dict[str, Any]]) -> list[str]:
    warnings = []
    for row in report:
        for key in ("dead", "saturated"):
            if row.get(key, 0) > DEAD_WARNING:
                warnings.append(f"{row['layer']}: {row[key]:.0%} of its {row['units']} units are {key} on the "
                                f"validation split; a lower learning rate or another activation may help")
    return warnings
