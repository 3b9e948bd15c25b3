"""nnintro backprop: the lecture's board work, node by node, checked against autograd."""
from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from nnintro.cli import app
from nnintro.commands.backprop import load_network, trace
from nnintro.errors import ConfigError

runner = CliRunner()


def test_the_sigmoid_neuron_graph_gives_the_textbook_gradients():
    result = trace(load_network("neuron"))  # sigmoid(2*-1 + -3*-2 + -3) = sigmoid(1)
    assert result.output == pytest.approx([0.7311], abs=1e-4) and result.loss is None
    layer = result.layers[0]
    assert np.allclose(layer.grad_weight, [[-0.1966, -0.3932]], atol=1e-4)
    assert np.allclose(layer.grad_bias, [0.1966], atol=1e-4)
    assert np.allclose(layer.grad_inputs, [0.3932, -0.5898], atol=1e-4)


def test_a_network_from_a_file_is_traced_and_matches_autograd(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text("input: [1, 0]\ntarget: [1]\nlayers:\n"
                    "  - {weight: [[1, -2], [0.5, 0.5], [-1, 1]], bias: [0, 0.1, 0.2], activation: tanh}\n"
                    "  - {weight: [[1, 1, -1]], activation: relu}\n")
    output = runner.invoke(app, ["backprop", str(path), "--input", "0.5,-1"])
    assert output.exit_code == 0, output.output
    assert "hidden1[2]  z = -1*x0 + 1*x1 + 0.2" in output.output and "dL/dx" in output.output
    result = trace(load_network(str(path), [0.5, -1]))
    assert result.autograd_difference < 1e-12 and len(result.layers[0].a) == 3


def test_a_wrong_network_is_named_in_one_line(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text("input: [1, 0]\nlayers:\n  - {weight: [[1, 2, 3]]}\n")
    result = runner.invoke(app, ["backprop", str(path)])
    assert result.exit_code == 2
    said = " ".join(result.output.split())  # however the console wrapped it
    assert f"{path}: layers[0].weight: rows need 2 numbers (the inputs it gets), got 3" in said
    path.write_text("input: [1, .nan]\nlayers:\n  - {weight: [[1, 2]], activation: gelu}\n")
    with pytest.raises(ConfigError, match=r"input\[1\]: must be a finite number within"):
        load_network(str(path))
    path.write_bytes(b"\xf1\x00\x18binary")
    assert runner.invoke(app, ["backprop", str(path)]).exit_code == 2
    with pytest.raises(ConfigError, match="target: one number per output"):
        load_network("xor", target=[1, 0])
    assert runner.invoke(app, ["backprop", "nosuch"]).exit_code == 2


def test_one_step_of_gradient_descent_lowers_the_loss():
    from nnintro.commands.backprop import descend

    network = load_network("xor")
    before = trace(network)
    after = trace(descend(network, before, 0.5))
    assert after.loss < before.loss and after.output[0] > before.output[0]  # towards the target 1
    assert np.allclose(after.layers[0].weight, before.layers[0].weight - 0.5 * before.layers[0].grad_weight)
    shown = runner.invoke(app, ["backprop", "--lr", "0.5"])
    assert shown.exit_code == 0 and f"loss {before.loss:.4g} -> {after.loss:.4g}" in shown.output
    assert runner.invoke(app, ["backprop", "neuron", "--lr", "0.5"]).exit_code == 2  # no target, no loss to descend


def test_autograds_first_example_on_a_batch():
    """y = w * x with w = 1 on x = 1..4 against y = 2x: MSE 7.5 and dMSE/dw = -15, as the lecture computes it."""
    result = trace(load_network("batch"))
    assert result.loss == 7.5 and result.layers[0].grad_weight.tolist() == [[-15.0]]
    assert result.output.ravel().tolist() == [1, 2, 3, 4] and result.autograd_difference == 0
    shown = runner.invoke(app, ["backprop", "batch"]).output
    assert "a batch of 4 samples: x0 = (1, 2, 3, 4)" in shown and "= 7.5" in shown
    assert "dL/dw = dL/dz * inputs summed over the samples = (-15)" in shown
    stepped = runner.invoke(app, ["backprop", "batch", "--lr", "0.05"]).output
    assert "w = (1.75)" in stepped and "loss 7.5 -> 0.4688" in stepped


def test_a_batch_of_the_wrong_shape_is_refused_in_one_line(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text("input: [[1, 2], [3]]\nlayers:\n  - {weight: [[1, 2]]}\n")
    assert "every row as long" in runner.invoke(app, ["backprop", str(path)]).output
    path.write_text("input: [[1], [2]]\ntarget: [[1]]\nlayers:\n  - {weight: [[1]]}\n")
    with pytest.raises(ConfigError, match=r"target: one row per input row \(2\), got 1"):
        load_network(str(path))


def test_the_neurons_gates_pass_down_the_gradients_autograd_checked():
    """The gate-by-gate graph of sigmoid(w0*x0 + w1*x1 + w2): every gate's value and the gradients it passes
    down, ending in the same dL/dw, dL/db and dL/dx as the layer's trace (itself checked against autograd)."""
    from nnintro.commands.backprop import gates

    network = load_network("neuron")
    rows = {gate.kind + gate.name: gate for gate in gates(network)}
    layer = trace(network).layers[0]
    assert [round(g.value, 4) for g in rows.values()][:4] == [0.7311, 1.3679, 0.3679, -1.0]
    passed = {name: value for gate in rows.values() for name, value in gate.passed.items()}
    assert np.allclose([passed["w0"], passed["w1"]], layer.grad_weight[0])
    assert np.isclose(passed["b"], layer.grad_bias[0]) and np.allclose([passed["x0"], passed["x1"]], layer.grad_inputs)
    shown = runner.invoke(app, ["backprop", "neuron", "--gates"]).output
    assert "multiply swaps its inputs" in shown and "add passes the gradient on unchanged" in shown
    refused = runner.invoke(app, ["backprop", "xor", "--gates"])
    assert refused.exit_code == 2 and "one sigmoid neuron" in refused.output


def test_the_lectures_xor_network_and_its_slides_rounding():
    """The lecture's weights give 0.3405 for (1, 0); its slide's 0.33 is the hidden outputs rounded to 0.61 and
    0.69 first (0.338 then): both are shown."""
    from nnintro.commands.backprop import board_outputs

    network = load_network("lecture_xor")
    result = trace(network)
    assert result.output == pytest.approx([0.3405], abs=5e-5) and result.autograd_difference < 1e-12
    assert np.allclose(result.layers[0].a, [0.6106, 0.6857], atol=1e-4)
    hidden, output = board_outputs(network, 2)
    assert hidden.ravel().tolist() == [0.61, 0.69] and output.ravel() == pytest.approx([0.3380], abs=5e-5)
    shown = runner.invoke(app, ["backprop", "lecture_xor"]).output
    assert "hidden1 (0.61, 0.69) -> output 0.338; unrounded, as computed above: 0.3405" in shown
    assert "rounded" not in runner.invoke(app, ["backprop", "xor"]).output  # only where asked or the slide does
    assert "hidden1 (0.6, 0.5)" in runner.invoke(app, ["backprop", "xor", "--round", "1"]).output
    assert runner.invoke(app, ["backprop", "neuron", "--round", "2"]).exit_code == 2  # no hidden layer to round
