"""Models: the linear (softmax-regression) baseline and the MLP, with input standardization built in.

The first module of every model turns raw inputs (uint8 pixels or float features) into standardized
floats, so the normalization learned from the training split travels inside the saved weights and
eval/predict cannot disagree with training.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nnintro.features import playground_features


class Arctan(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.atan(x)


ACTIVATIONS: dict[str, type[nn.Module]] = {
    "identity": nn.Identity,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "prelu": nn.PReLU,
    "rrelu": nn.RReLU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "softplus": nn.Softplus,
    "arctan": Arctan,
}


class Standardize(nn.Module):
    """x -> (x * scale - mean) / std per channel (images: C,H,W) or per feature (vectors): x * weight + bias."""

    def __init__(self, input_shape: list[int], scale: float, mean: list[float], std: list[float]) -> None:
        super().__init__()
        broadcast = [len(mean)] + [1] * (len(input_shape) - 1)
        mean_t = torch.tensor(mean, dtype=torch.float32).reshape(broadcast)
        std_t = torch.tensor(std, dtype=torch.float32).reshape(broadcast)
        # tensor / tensor: `scale / std_t` would go through Tensor.__rdiv__, whose wrapper imports torch._dynamo
        # (a second of start-up for every command)
        self.register_buffer("weight", torch.tensor(scale, dtype=torch.float32) / std_t)
        self.register_buffer("bias", -mean_t / std_t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # mul promotes uint8 pixels to float in the same pass; a broadcast addcmul runs 2-3x slower on the CPU
        return torch.mul(x, self.weight).add_(self.bias)


class Destandardize(nn.Module):
    """The regression head's last step: standardized outputs -> the targets' own units (z * std + mean)."""

    def __init__(self, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.mean, z.to(self.std.dtype), self.std)


class PlaygroundFeatures(nn.Module):
    """(x1, x2) -> the chosen features (x1^2, x1*x2, sin(x1), ...), as the Playground's input column."""

    def __init__(self, names: list[str]) -> None:
        super().__init__()
        self.names = list(names)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return playground_features(points.float(), self.names)


class PackedLinear(nn.Module):
    """The linear layers of a pack of K members: weight (K, out, in), bias (K, out).

    Input (B, in), shared by every member (the first layer): one wide matmul for all K. Input (K, B, in):
    one batched matmul. Output (K, B, out). A single model is a pack of one."""

    def __init__(self, members: int, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(members, out_features, in_features))
        self.bias = nn.Parameter(torch.empty(members, out_features)) if bias else None

    def reset_parameters(self, member: int, generator: torch.Generator) -> None:
        """nn.Linear's initialisation (uniform within 1/sqrt(fan_in)) for one member, from its own generator."""
        bound = 1 / math.sqrt(self.weight.shape[2])
        with torch.no_grad():
            self.weight[member].uniform_(-bound, bound, generator=generator)
            if self.bias is not None:
                self.bias[member].uniform_(-bound, bound, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        members, out_features, in_features = self.weight.shape
        if x.dim() == 2:
            bias = self.bias.flatten() if self.bias is not None else None
            wide = F.linear(x, self.weight.reshape(members * out_features, in_features), bias)
            return wide.unflatten(-1, (members, out_features)).transpose(0, 1)
        if self.bias is None:
            return torch.bmm(x, self.weight.transpose(1, 2))
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight.transpose(1, 2))


class PackedNorm(nn.Module):
    """Batch or layer normalization of each member's hidden units (K, B, H), with each member's own scale and
    shift (K, H) and, for batch norm, its own running statistics."""

    def __init__(self, kind: str, members: int, width: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.kind, self.momentum, self.eps = kind, momentum, eps
        self.label, self.title = f"{kind}norm", f"{kind.capitalize()}Norm"  # names in layer tables
        self.weight = nn.Parameter(torch.ones(members, width))
        self.bias = nn.Parameter(torch.zeros(members, width))
        if kind == "batch":
            self.register_buffer("running_mean", torch.zeros(members, width))
            self.register_buffer("running_var", torch.ones(members, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        members, batch, width = x.shape
        if self.kind == "layer":
            return torch.addcmul(self.bias.unsqueeze(1), F.layer_norm(x, (width,), eps=self.eps),
                                 self.weight.unsqueeze(1))
        # every (member, unit) is one batch-norm channel: statistics over the batch only
        flat = x.transpose(0, 1).reshape(batch, members * width)
        out = F.batch_norm(flat, self.running_mean.view(-1), self.running_var.view(-1), self.weight.view(-1),
                           self.bias.view(-1), self.training, self.momentum, self.eps)
        return out.view(batch, members, width).transpose(0, 1)


MEMBER_LAYERS = (PackedLinear, PackedNorm)  # their every tensor has the member dimension first


def member_tensors(model: nn.Module) -> list[str]:
    """The state_dict names of every tensor with a leading member dimension (weights, running statistics)."""
    return [f"{prefix}.{name}" if prefix else name for prefix, module in model.named_modules()
            if isinstance(module, MEMBER_LAYERS) for name, _ in [*module.named_parameters(recurse=False),
                                                                    *module.named_buffers(recurse=False)]]


def member_count(model: nn.Module) -> int:
    return next(m for m in model.modules() if isinstance(m, PackedLinear)).weight.shape[0]


class MemberView(nn.Module):
    """One member of a pack (member: its index), or the ensemble (member None: the task's combination of the
    outputs of the members listed in `ensemble`), as a model with the usual (B, outputs) output: what eval,
    predict and export use."""

    def __init__(self, pack: nn.Module, combine: Any, member: int | None, ensemble: list[int]) -> None:
        super().__init__()
        self.pack, self.combine, self.member = pack, combine, member
        self.ensemble = None if len(ensemble) == member_count(pack) else ensemble

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = self.pack(x)
        if self.member is not None:
            return outputs[self.member]
        return self.combine(outputs if self.ensemble is None else outputs[self.ensemble])


def user_model(pack: nn.Module, combine: Any, member: int | None = None,
               ensemble: list[int] | None = None) -> MemberView:
    """What a user runs: the ensemble of the members listed (default: all; diverged members are left out) or one
    member; a pack of one is its only member, outputs unchanged."""
    members = member_count(pack)
    ensemble = ensemble or list(range(members))
    return MemberView(pack, combine, ensemble[0] if member is None and len(ensemble) == 1 else member, ensemble)


def plain_model(pack: nn.Sequential, member: int = 0) -> nn.Sequential:
    """One member as a textbook torch model (torch.nn.Linear layers holding copies of its weights): what the
    benchmarks' classic loops train, and what checks the packed layers against."""
    layers = []
    for module in pack:
        if isinstance(module, PackedLinear):
            linear = nn.Linear(module.weight.shape[2], module.weight.shape[1], bias=module.bias is not None)
            with torch.no_grad():
                linear.weight.copy_(module.weight[member])
                if module.bias is not None:
                    linear.bias.copy_(module.bias[member])
            module = linear
        layers.append(module)
    return nn.Sequential(*layers)


def build_model(architecture: dict[str, Any], seeds: list[int] | None = None) -> nn.Sequential:
    """Rebuild a model from the architecture dict stored in model.json; member k is initialised from seeds[k]."""
    input_shape = architecture["input_shape"]
    norm = architecture["normalization"]
    features = norm.get("features")
    layers: list[nn.Module] = [PlaygroundFeatures(features)] if features else []
    standardized_shape = [len(features)] if features else input_shape
    layers += [Standardize(standardized_shape, norm["scale"], norm["mean"], norm["std"]), nn.Flatten()]
    width = math.prod(standardized_shape)
    bias = architecture.get("bias", True)  # runs from before the switch have biases
    members = architecture.get("members", 1)
    if architecture["kind"] == "mlp":
        norm = architecture.get("norm", "none")
        for index, hidden in enumerate(architecture["hidden"]):
            layers.append(PackedLinear(members, width, hidden, bias=bias))
            if norm != "none":
                layers.append(PackedNorm(norm, members, hidden))
            layers.append(ACTIVATIONS[architecture["activation"]]())
            rate = dropout_rates(architecture)[index]
            if rate > 0:
                layers.append(nn.Dropout(rate))
            width = hidden
    layers.append(PackedLinear(members, width, architecture["num_outputs"], bias=bias))
    target_scale = architecture.get("target_scale")
    if target_scale:
        layers.append(Destandardize(target_scale["mean"], target_scale["std"]))
    model = nn.Sequential(*layers)
    for member, seed in enumerate(seeds or range(members)):
        generator = torch.Generator().manual_seed(seed)
        for layer in model:
            if isinstance(layer, PackedLinear):
                layer.reset_parameters(member, generator)
    return model


def dropout_rates(architecture: dict[str, Any]) -> list[float]:
    """model.dropout as one rate per hidden layer (a single number applies to every layer)."""
    dropout = architecture["dropout"]
    return list(dropout) if isinstance(dropout, list) else [dropout] * len(architecture["hidden"])


def architecture_for(model_config: Any, input_shape: list[int], num_outputs: int, normalization: dict,
                     target_scale: dict[str, list[float]] | None = None, members: int = 1) -> dict[str, Any]:
    """The JSON-able description of a model: everything build_model needs."""
    return {
        "kind": model_config.kind,
        "hidden": list(model_config.hidden) if model_config.kind == "mlp" else [],
        "activation": model_config.activation,
        "dropout": model_config.dropout,
        "norm": model_config.norm,
        "bias": model_config.bias,
        "input_shape": list(input_shape),
        "num_outputs": num_outputs,
        "normalization": normalization,
        "target_scale": target_scale,
        "members": members,
    }


MODEL_KINDS = ("linear", "mlp")
MAX_MEMBERS = 1024
NORMS = ("none", "batch", "layer")


def architecture_problems(arch: Any, num_outputs: int) -> list[str]:
    """What is wrong with a saved architecture (from a model.json that may have been edited), checked against
    the same registries build_model uses, before anything is built."""
    if not isinstance(arch, dict):
        return ["architecture must be a mapping"]
    problems = []
    if arch.get("kind") not in MODEL_KINDS:
        problems.append(f"kind {arch.get('kind')!r} must be one of {', '.join(MODEL_KINDS)}")
    if arch.get("activation") not in ACTIVATIONS:
        problems.append(f"unknown activation {arch.get('activation')!r}")
    for key in ("input_shape", "hidden"):
        if not isinstance(arch.get(key), list) or not all(isinstance(v, int) and v > 0 for v in arch[key]):
            problems.append(f"{key} must be a list of positive integers")
    norm = arch.get("normalization")
    if not (isinstance(norm, dict) and {"scale", "mean", "std"} <= set(norm)):
        problems.append("normalization needs scale, mean and std")
    if not isinstance(arch.get("num_outputs"), int) or arch["num_outputs"] != num_outputs:
        problems.append("num_outputs must match the number of classes or targets")
    if arch.get("norm", "none") not in NORMS:
        problems.append(f"norm {arch.get('norm')!r} must be one of {', '.join(NORMS)}")
    if not isinstance(arch.get("members", 1), int) or not 1 <= arch.get("members", 1) <= MAX_MEMBERS:
        problems.append(f"members must be a whole number from 1 to {MAX_MEMBERS}")
    return problems


def upgrade_architecture(architecture: dict[str, Any]) -> dict[str, Any]:
    """model.json files written before regression said num_classes for the output width."""
    if isinstance(architecture, dict) and "num_outputs" not in architecture and "num_classes" in architecture:
        architecture = {**architecture, "num_outputs": architecture["num_classes"]}
        del architecture["num_classes"]
    return architecture


def planned_parameters(architecture: dict[str, Any]) -> int:
    """The parameter count build_model would give, computed without allocating anything."""
    features = architecture["normalization"].get("features")
    widths = [len(features) if features else math.prod(architecture["input_shape"]), *architecture["hidden"],
              architecture["num_outputs"]]
    bias = 1 if architecture.get("bias", True) else 0
    norm = 2 * sum(architecture["hidden"]) if architecture.get("norm", "none") != "none" else 0
    return architecture.get("members", 1) * (sum(a * b + b * bias for a, b in zip(widths, widths[1:])) + norm)


def check_memory(architecture: dict[str, Any]) -> None:
    """Refuse a model whose training state cannot fit in this machine's memory, before allocating it:
    weights, gradients, two optimizer moments and the best weights, 4 bytes each."""
    import os

    from nnintro.errors import ConfigError

    needed = planned_parameters(architecture) * 4 * 5
    try:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    if needed > available // 2:
        members = architecture.get("members", 1)
        field, advice = ("train.members", "train fewer members") if members > 1 else ("model.hidden", "use smaller widths")
        raise ConfigError(f"{field}: {describe(architecture)} has {planned_parameters(architecture):,} "
                          f"parameters; training it needs about {needed / 2**30:,.0f} GiB, more than half of this "
                          f"machine's {available / 2**30:.0f} GiB; {advice}")


def readable_names(model: nn.Module) -> dict[str, str]:
    """Sequential indices -> names a student can read: linear layers hidden1, ..., output; activations after them."""
    names, linear = {}, 0
    children = list(model.named_children())
    last_linear = max(i for i, (_, m) in enumerate(children) if isinstance(m, PackedLinear))
    for position, (index, module) in enumerate(children):
        if isinstance(module, PackedLinear):
            linear += 1
            names[index] = "output" if position == last_linear else f"hidden{linear}"
        else:
            names[index] = f"{getattr(module, 'label', type(module).__name__.lower())}{linear or ''}"
    return names


def hidden_activations(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The activation modules after the first linear layer (the hidden layers'), with their child names."""
    children = list(model.named_children())
    first_linear = next(i for i, (_, module) in enumerate(children) if isinstance(module, PackedLinear))
    return [(index, module) for index, module in children[first_linear:]
            if isinstance(module, tuple(ACTIVATIONS.values()))]


@contextmanager
def watching_activations(model: nn.Module, record: Callable[[str, nn.Module, torch.Tensor], None]) -> Iterator[None]:
    """Inside, the model is in eval mode and each hidden activation's output (K, B, units) goes to
    record(child name, module, output)."""
    hooks = [module.register_forward_hook(lambda _m, _i, out, index=index, module=module: record(index, module, out))
             for index, module in hidden_activations(model)]
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def describe(architecture: dict[str, Any]) -> str:
    """'784-128-10 relu' style summary."""
    features = architecture["normalization"].get("features")
    inputs = len(features) if features else math.prod(architecture["input_shape"])
    widths = [inputs, *architecture["hidden"], architecture["num_outputs"]]
    shape = "-".join(str(w) for w in widths)
    members = architecture.get("members", 1)
    return (f"{architecture['kind']} {shape}" + (f" {architecture['activation']}" if architecture["hidden"] else "")
            + (f" x {members} members" if members > 1 else ""))
