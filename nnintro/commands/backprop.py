"""Backpropagation made visible: a tiny network with given weights, its forward pass and every gradient,
node by node, as the first lecture works it on the board. The arithmetic is nnintro.models.scratch's (the same layers
`train.engine: numpy` trains with); torch's autograd checks it."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, model_validator

from nnintro.config import describe_error, read_yaml_mapping
from nnintro.errors import ConfigError
from nnintro.models import scratch

LARGEST = 1e6  # values beyond this are not for reading by eye (and could overflow)


def _readable(values: list, where: str = "") -> list:
    for index, value in enumerate(values):
        if isinstance(value, list):
            _readable(value, f"{where}[{index}]")
        elif not abs(value) <= LARGEST:  # also refuses nan
            raise ValueError(f"{where}[{index}] must be a finite number within ±{LARGEST:g}, got {value}")
    return values


Numbers = Annotated[list[float], AfterValidator(_readable)]


class Layer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weight: Annotated[list[list[float]], AfterValidator(_readable)]  # (units, inputs)
    bias: Numbers | None = None
    activation: str = "sigmoid"

    @model_validator(mode="after")
    def _fits(self) -> Layer:
        if not self.weight or len({len(row) for row in self.weight}) != 1 or not self.weight[0]:
            raise ValueError("weight: one row per unit, every row as long (one number per input)")
        if self.bias is not None and len(self.bias) != len(self.weight):
            raise ValueError(f"bias: one per unit ({len(self.weight)}), got {len(self.bias)}")
        if self.activation not in scratch.ACTIVATIONS:
            raise ValueError(f"activation: unknown '{self.activation}' (valid: {', '.join(scratch.ACTIVATIONS)})")
        return self


Batch = Annotated[list[list[float]], AfterValidator(_readable)]


class TinyNetwork(BaseModel):
    """What a backprop file holds: the input (one sample, or a batch: one row per sample), an optional target
    (one row per sample for a batch), and the layers."""
    model_config = ConfigDict(extra="forbid")
    input: Numbers | Batch
    target: Numbers | Batch | None = None
    layers: list[Layer]

    @property
    def samples(self) -> list[list[float]]:
        """The input as rows, one per sample."""
        return self.input if isinstance(self.input[0], list) else [self.input]

    @property
    def targets(self) -> list[list[float]] | None:
        if self.target is None:
            return None
        return self.target if isinstance(self.target[0], list) else [self.target]

    @model_validator(mode="after")
    def _chained(self) -> TinyNetwork:
        rows = self.samples
        if not rows or not rows[0] or len(rows) > 64 or len({len(row) for row in rows}) != 1:
            raise ValueError("input: numbers, or 1 to 64 rows of them (a batch), every row as long")
        width = len(rows[0])
        if not self.layers or len(self.layers) > 8 or max(len(layer.weight) for layer in self.layers) > 16:
            raise ValueError("layers: 1 to 8 layers of at most 16 units (this is for reading by eye)")
        for index, layer in enumerate(self.layers):
            if len(layer.weight[0]) != width:
                raise ValueError(f"layers[{index}].weight: rows need {width} numbers (the inputs it gets), "
                                 f"got {len(layer.weight[0])}")
            width = len(layer.weight)
        targets = self.targets
        if targets is not None and len(targets) != len(rows):
            raise ValueError(f"target: one row per input row ({len(rows)}), got {len(targets)}")
        if targets is not None and any(len(row) != width for row in targets):
            raise ValueError(f"target: one number per output ({width}), got {len(targets[0])}")
        return self


EXAMPLES = {
    # the lecture's graph: one sigmoid neuron, f = sigmoid(w0*x0 + w1*x1 + w2)
    "neuron": {"input": [-1, -2], "layers": [{"weight": [[2, -3]], "bias": [-3]}]},
    # autograd's first example, on a batch: y = w * x with w = 1 against y = 2x, MSE 7.5 and dMSE/dw = -15
    "batch": {"input": [[1], [2], [3], [4]], "target": [[2], [4], [6], [8]],
              "layers": [{"weight": [[1]], "activation": "identity"}]},
    # XOR by a 2-2-1 sigmoid network with untrained weights: for (1, 0) it answers 0.29, far from the target 1
    "xor": {"input": [1, 0], "target": [1],
            "layers": [{"weight": [[0.5, -1.0], [-0.5, 1.0]], "bias": [0.0, 0.5]},
                       {"weight": [[-1.0, -0.5]], "bias": [0.0]}]},
    # the lecture's XOR network, its weights as the slide gives them (no biases): for (1, 0) it answers 0.3405;
    # the slide's 0.33 comes from the hidden outputs rounded to 0.61 and 0.69 before the output neuron
    "lecture_xor": {"input": [1, 0], "target": [1],
                    "layers": [{"weight": [[0.45, -0.12], [0.78, 0.13]]}, {"weight": [[1.5, -2.3]]}]},
}
BOARD_DIGITS = {"lecture_xor": 2}  # the examples whose slide rounds each layer's outputs: both are shown


def load_network(spec: str, inputs: list[float] | None = None, target: list[float] | None = None) -> TinyNetwork:
    """A built-in example (neuron, batch, xor, lecture_xor) or a YAML file; --input / --target replace the file's."""
    if spec in EXAMPLES:
        document, source = dict(EXAMPLES[spec]), spec
    else:
        path = Path(spec)
        if not path.is_file():
            raise ConfigError(f"{spec}: neither a built-in example ({', '.join(EXAMPLES)}) nor a file")
        document, source = read_yaml_mapping(path, "a mapping with input, layers and optionally target"), str(path)
    document.update({k: v for k, v in (("input", inputs), ("target", target)) if v is not None})
    try:
        return TinyNetwork.model_validate(document)
    except ValidationError as err:
        raise ConfigError(f"{source}: {describe_error(err.errors(include_url=False)[0], TinyNetwork)}") from err


@dataclass
class LayerTrace:
    name: str
    activation: str
    inputs: np.ndarray  # what the layer received
    weight: np.ndarray
    bias: np.ndarray | None
    z: np.ndarray  # weighted sums
    a: np.ndarray  # activations
    grad_a: np.ndarray  # dL/da (or df/da without a target)
    grad_z: np.ndarray
    grad_weight: np.ndarray
    grad_bias: np.ndarray | None
    grad_inputs: np.ndarray


@dataclass
class Trace:
    layers: list[LayerTrace]
    output: np.ndarray
    loss: float | None  # mean squared error against the target; None: the gradients are of the output itself
    autograd_difference: float  # the largest gap between these gradients and torch autograd's


@np.errstate(over="ignore")  # e^-z of a very negative z is inf, and the sigmoid's 1 / (1 + inf) = 0 is right
def trace(network: TinyNetwork) -> Trace:
    """Forward and backward over the input's samples: a layer's numbers are per sample, (B, units), or for a
    single sample (units,); the weight gradients are of the loss's mean over the batch."""
    x = np.array(network.samples, dtype=np.float64)
    linears = [scratch.Linear(np.array(layer.weight, dtype=np.float64),
                              np.array(layer.bias, dtype=np.float64) if layer.bias is not None else None)
               for layer in network.layers]
    activations = [scratch.ACTIVATIONS[layer.activation]() for layer in network.layers]
    inputs, sums, outs = [], [], []
    for linear, activation in zip(linears, activations):
        inputs.append(x)
        sums.append(linear.forward(x))
        x = activation.forward(sums[-1])
        outs.append(x)
    loss = None
    if network.target is not None:
        mse = scratch.MSE()
        loss = float(mse.forward(x, np.array(network.targets)).mean())
        grad = mse.backward()
    else:
        grad = np.ones_like(x)  # d output / d output
    backward = {}  # layer index -> (dL/da, dL/dz, dL/d its input)
    for index in reversed(range(len(linears))):
        grad_z = activations[index].backward(grad)
        backward[index] = (grad, grad_z, linears[index].backward(grad_z))
        grad = backward[index][2]
    rows = (lambda values: values[0]) if len(x) == 1 else (lambda values: values)  # one sample: its own numbers
    layers = [LayerTrace("output" if i == len(linears) - 1 else f"hidden{i + 1}", network.layers[i].activation,
                         rows(inputs[i]), linears[i].weight, linears[i].bias, rows(sums[i]), rows(outs[i]),
                         rows(backward[i][0]), rows(backward[i][1]), linears[i].grad_weight, linears[i].grad_bias,
                         rows(backward[i][2]))
              for i in range(len(linears))]
    return Trace(layers, rows(outs[-1]), loss, _autograd_difference(network, layers))


def _autograd_difference(network: TinyNetwork, layers: list[LayerTrace]) -> float:
    x = torch.tensor(network.samples, dtype=torch.float64, requires_grad=True)
    weights = [torch.tensor(layer.weight, dtype=torch.float64, requires_grad=True) for layer in network.layers]
    biases = [torch.tensor(layer.bias, dtype=torch.float64, requires_grad=True) if layer.bias is not None else None
              for layer in network.layers]
    functions = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu, "identity": lambda z: z}
    out = x
    for layer, weight, bias in zip(network.layers, weights, biases):
        out = functions[layer.activation](out @ weight.T + (bias if bias is not None else 0))
    if network.target is not None:
        (out - torch.tensor(network.targets, dtype=torch.float64)).square().mean().backward()
    else:
        out.sum().backward()  # the gradients of the output itself
    gaps = [np.abs(w.grad.numpy() - trace.grad_weight).max() for w, trace in zip(weights, layers)]
    gaps += [np.abs(b.grad.numpy() - trace.grad_bias).max() for b, trace in zip(biases, layers) if b is not None]
    gaps.append(np.abs(x.grad.numpy() - layers[0].grad_inputs).max())
    return float(max(gaps))


def board_outputs(network: TinyNetwork, digits: int) -> list[np.ndarray]:
    """The forward pass as worked on a board: each hidden layer's outputs rounded to `digits` decimals before the
    next layer takes them (a slide's figures), one array per layer; the output itself is not rounded."""
    x = np.array(network.samples, dtype=np.float64)
    outputs = []
    for index, layer in enumerate(network.layers):
        z = x @ np.array(layer.weight).T + (np.array(layer.bias) if layer.bias is not None else 0.0)
        x = scratch.ACTIVATIONS[layer.activation]().forward(z)
        x = np.round(x, digits) if index < len(network.layers) - 1 else x
        outputs.append(x)
    return outputs


def describe_board(exact: Trace, network: TinyNetwork, digits: int) -> list[str]:
    """The board's rounded forward pass beside the exact one, so a slide's figure can be told from the network's."""
    rounded = board_outputs(network, digits)
    hidden = [f"{layer.name} ({', '.join(f'{v:.{digits}f}' for v in values.ravel())})"
              for layer, values in zip(exact.layers, rounded[:-1])]
    return [f"on a board, the hidden outputs rounded to {digits} decimals first: {' -> '.join(hidden)} -> output "
            f"{_v(rounded[-1].ravel())}; unrounded, as computed above: {_v(exact.output)}"]


SLOPES = {"sigmoid": "a(1-a)", "tanh": "1-a²", "relu": "1 if z>0 else 0", "identity": "1"}


def descend(network: TinyNetwork, result: Trace, lr: float) -> TinyNetwork:
    """One step of gradient descent: every weight and bias minus lr times its gradient."""
    layers = [layer.model_copy(update={
        "weight": (np.array(layer.weight) - lr * traced.grad_weight).tolist(),
        "bias": None if layer.bias is None else (np.array(layer.bias) - lr * traced.grad_bias).tolist()})
        for layer, traced in zip(network.layers, result.layers)]
    return network.model_copy(update={"layers": layers})


def describe_step(before: Trace, after: Trace, lr: float) -> list[str]:
    """What one step of gradient descent did: the new weights, and the output and loss they give."""
    lines = [f"one step of gradient descent, lr {lr:g}: w <- w - lr * dL/dw, b <- b - lr * dL/db"]
    for layer in after.layers:
        for unit, row in enumerate(layer.weight):
            bias = f"   b = {_n(layer.bias[unit])}" if layer.bias is not None else ""
            lines.append(f"  {layer.name}[{unit}]  w = ({', '.join(_n(w) for w in row)}){bias}")
    return [*lines, f"  output {_v(before.output)} -> {_v(after.output)}, loss {_n(before.loss)} -> {_n(after.loss)}"]


def _n(value: float) -> str:
    return f"{value:.4g}"


def _v(values: np.ndarray) -> str:
    """A number, or one per sample (a batch) in parentheses."""
    values = np.atleast_1d(values)
    return _n(values[0]) if values.size == 1 else f"({', '.join(_n(v) for v in values.ravel())})"


def _weighted_sum(weights: np.ndarray, names: list[str], bias: float | None) -> str:
    terms = [(w, f"*{name}") for w, name in zip(weights, names)] + ([(bias, "")] if bias is not None else [])
    text = f"{_n(terms[0][0])}{terms[0][1]}"
    for value, name in terms[1:]:
        text += f" {'-' if value < 0 else '+'} {_n(abs(value))}{name}"
    return text


def describe(result: Trace, network: TinyNetwork) -> list[str]:
    """The board, line by line: forward, loss, backward. For a batch every node shows one value per sample,
    and the weight gradients are summed over the samples (of the loss's mean)."""
    d = "dL" if result.loss is not None else "df"  # of the loss, or of the output f itself
    samples = len(network.samples)
    unit_of = (lambda values, unit: values[unit]) if samples == 1 else (lambda values, unit: values[:, unit])
    inputs = np.array(network.samples)
    shown = ", ".join(_v(column) for column in inputs.T) if samples == 1 else \
        "; ".join(f"x{i} = {_v(column)}" for i, column in enumerate(inputs.T))
    lines = [f"forward, input x = ({shown})" if samples == 1 else f"forward, a batch of {samples} samples: {shown}"]
    names = [f"x{i}" for i in range(inputs.shape[1])]
    for layer in result.layers:
        for unit, row in enumerate(layer.weight):
            bias = layer.bias[unit] if layer.bias is not None else None
            lines.append(f"  {layer.name}[{unit}]  z = {_weighted_sum(row, names, bias)} = {_v(unit_of(layer.z, unit))}"
                         f"   a = {layer.activation}(z) = {_v(unit_of(layer.a, unit))}")
        names = [f"{layer.name}[{unit}]" for unit in range(len(layer.weight))]
    if result.loss is not None:
        over = f" over the {samples} samples and the outputs" if samples > 1 else ""
        targets = np.array(network.targets)
        lines.append(f"loss  L = mean((a - target)²){over} = {_n(result.loss)}  (target "
                     f"{', '.join(_v(column) for column in targets.T)})")
        lines.append("backward: dL/d(each node), from the loss back to the input")
        lines.append(f"  (at the output, dL/da = 2(a - target)/{targets.size})")
    else:
        lines.append("backward: d(output)/d(each node), from the output back to the input (upstream gradient 1)")
    summed = " summed over the samples" if samples > 1 else ""
    for layer in reversed(result.layers):
        for unit in range(len(layer.weight)):
            lines.append(f"  {layer.name}[{unit}]  {d}/da = {_v(unit_of(layer.grad_a, unit))}   {d}/dz = {d}/da * "
                         f"{SLOPES[layer.activation]} = {_v(unit_of(layer.grad_z, unit))}")
            weights = ", ".join(_n(g) for g in layer.grad_weight[unit])
            bias = f"   {d}/db = {_n(layer.grad_bias[unit])}" if layer.grad_bias is not None else ""
            lines.append(f"      {d}/dw = {d}/dz * inputs{summed} = ({weights}){bias}")
    grad_inputs = np.atleast_2d(result.layers[0].grad_inputs).T  # one row per input
    lines.append(f"  input  {d}/dx = ({', '.join(_v(g) for g in grad_inputs)})" if samples == 1 else
                 "  input  " + "; ".join(f"{d}/dx{i} = {_v(g)}" for i, g in enumerate(grad_inputs)))
    lines.append(f"check: torch autograd's gradients differ from these by at most {result.autograd_difference:.1e}")
    return lines


@dataclass
class Gate:
    name: str  # what the gate computes, e.g. "w0 * x0"
    kind: str  # multiply, add, negate, exp, add 1, reciprocal
    value: float
    local: str  # its local derivative(s), in words and numbers
    upstream: float  # d f / d (its output)
    passed: dict[str, float]  # d f / d (each of its inputs)


def gates(network: TinyNetwork) -> list[Gate]:
    """The single sigmoid neuron f = sigmoid(w0*x0 + ... + b) as the lecture's gates: a multiply per input, the
    adds, then the sigmoid as x(-1), exp, +1, 1/x; each gate's value, local derivative, the gradient arriving from
    above and the gradients it passes down (the chain rule, one gate at a time)."""
    layer = network.layers[0]
    if len(network.layers) != 1 or len(layer.weight) != 1 or layer.activation != "sigmoid" \
            or len(network.samples) != 1 or network.target is not None:
        raise ConfigError("--gates: draws one sigmoid neuron on one input without a target (one layer, one "
                          "unit), e.g. nnintro backprop neuron --gates")
    weights, inputs = layer.weight[0], network.samples[0]
    bias = layer.bias[0] if layer.bias is not None else 0.0
    products = [w * x for w, x in zip(weights, inputs)]
    total = sum(products) + bias
    negated = -total
    exponent = math.exp(negated)
    shifted = 1 + exponent
    out = 1 / shifted
    # backward, from the output down (upstream gradient 1)
    d_shifted = -1 / shifted**2
    d_exponent = d_shifted
    d_negated = d_exponent * exponent
    d_total = -d_negated
    rows = [
        Gate("1 / s", "reciprocal", out, f"-1/s² = {_n(-1 / shifted**2)}", 1.0, {"s": d_shifted}),
        Gate("s = 1 + e", "add 1", shifted, "1", d_shifted, {"e": d_exponent}),
        Gate("e = exp(n)", "exp", exponent, f"exp(n) = {_n(exponent)}", d_exponent, {"n": d_negated}),
        Gate("n = -z", "multiply by -1", negated, "-1", d_negated, {"z": d_total}),
        Gate("z = " + " + ".join([f"p{i}" for i in range(len(products))] + ["b"]), "add", total,
             "1 for each input: add passes the gradient on unchanged", d_total,
             {**{f"p{i}": d_total for i in range(len(products))}, "b": d_total}),
    ]
    for i, (w, x) in enumerate(zip(weights, inputs)):
        rows.append(Gate(f"p{i} = w{i} * x{i}", "multiply", products[i],
                         f"d/dw{i} = x{i} = {_n(x)}, d/dx{i} = w{i} = {_n(w)}: multiply swaps its inputs", d_total,
                         {f"w{i}": d_total * x, f"x{i}": d_total * w}))
    return rows


def describe_gates(rows: list[Gate]) -> list[str]:
    lines = ["the neuron as gates, from the output down (f = 1/s; upstream gradient df/df = 1):"]
    for gate in rows:
        passed = ", ".join(f"df/d{name} = {_n(value)}" for name, value in gate.passed.items())
        lines.append(f"  {gate.kind:>14}  {gate.name} = {_n(gate.value)}   local {gate.local}")
        lines.append(f"  {'':>14}  upstream {_n(gate.upstream)} x local -> {passed}")
    lines += ["patterns: an add gate hands its upstream gradient to every input unchanged; a multiply gate hands "
              "each input the upstream times the other input; a value used twice (a copy) gets the sum of the "
              "gradients coming back along both uses"]
    return lines
