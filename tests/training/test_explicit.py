"""The explicit backward against autograd: the same outputs, losses and every gradient, for packs of one and of
several, each activation it covers, dropout (the same random mask: both draw it as torch's dropout does), with and
without biases, classification and regression; and the trainer taking that path only where it covers the run."""
from __future__ import annotations

import pytest
import torch

from nnintro.config import load_config
from nnintro.errors import ConfigError
from nnintro.models.layers import build_model
from nnintro.tasks import Classification
from nnintro.tasks.regression import Regression
from nnintro.training.distributed import Distributed
from nnintro.training.explicit import ExplicitBackward
from nnintro.training.outputs import member_losses
from nnintro.training.step import Stepper


def _model(task_name: str, activation: str, members: int, dropout: float, bias: bool) -> torch.nn.Sequential:
    outputs = 4 if task_name == "classification" else 2
    architecture = {"kind": "mlp", "hidden": [7, 5], "activation": activation, "dropout": dropout, "norm": "none",
                    "bias": bias, "input_shape": [1, 3, 3], "num_outputs": outputs, "members": members,
                    "normalization": {"scale": 1 / 255, "mean": [0.4], "std": [0.3]},
                    "target_scale": {"mean": [1.0, -2.0], "std": [2.0, 0.5]} if task_name == "regression" else None}
    return build_model(architecture, [3 + k for k in range(members)])


def _task(task_name: str):
    if task_name == "classification":
        return Classification(["a", "b", "c", "d"])
    return Regression(["u", "v"], [1.0, -2.0], [2.0, 0.5])


@pytest.mark.parametrize("task_name", ["classification", "regression"])
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "identity"])
@pytest.mark.parametrize("members", [1, 3])
@pytest.mark.parametrize("dropout,bias", [(0.0, True), (0.4, True), (0.0, False)])
def test_gradients_match_autograd(task_name: str, activation: str, members: int, dropout: float, bias: bool) -> None:
    task = _task(task_name)
    model = _model(task_name, activation, members, dropout, bias)
    generator = torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (6, 1, 3, 3), generator=generator, dtype=torch.uint8)
    y = torch.randint(0, 4, (6,), generator=generator) if task_name == "classification" \
        else torch.randn(6, 2, generator=generator) * 2
    loss_fn = task.per_sample_loss(load_config().loss)

    torch.manual_seed(5)
    outputs = model(x)
    losses = member_losses(loss_fn, outputs, y).mean(-1)
    losses.sum().backward()
    expected = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)

    torch.manual_seed(5)  # the same dropout masks
    got_outputs, got_losses = ExplicitBackward(model, task).forward_backward(x, y)
    torch.testing.assert_close(got_outputs, outputs.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got_losses, losses.detach(), rtol=1e-5, atol=1e-6)
    for name, parameter in model.named_parameters():
        torch.testing.assert_close(parameter.grad, expected[name], rtol=1e-4, atol=1e-6, msg=name)


def _stepper(overrides: list[str], task=None) -> Stepper:
    config = load_config(None, ["model.hidden=[8]", *overrides])
    task = task or Classification(["a", "b", "c", "d"])
    model = _model("classification", config.model.activation, config.train.members, 0.0, True)
    return Stepper(model, task, config, Distributed())


def test_the_trainer_takes_the_explicit_path_only_where_it_covers_the_run() -> None:
    assert _stepper([]).explicit is not None
    assert _stepper(["train.members=3"]).explicit is not None
    for override in ("train.engine=autograd", "loss.label_smoothing=0.1", "regularization.l1=0.001",
                     "loss.name=nll", "model.activation=gelu"):
        assert _stepper([override]).explicit is None, override


def test_a_step_moves_the_weights_as_autograd_does() -> None:
    """The same SGD step from the same weights, through the trainer's stepper on either path."""
    generator = torch.Generator().manual_seed(2)
    x = torch.randint(0, 256, (16, 1, 3, 3), generator=generator, dtype=torch.uint8)
    y = torch.randint(0, 4, (16,), generator=generator)
    weights = []
    for engine in ("torch", "autograd"):
        stepper = _stepper([f"train.engine={engine}", "optimizer=adam", "optimizer.lr=0.01"])
        assert (stepper.explicit is not None) == (engine == "torch")
        for _ in range(3):
            stepper.step(x, y, 16)
        weights.append([p.detach().clone() for p in stepper.model.parameters()])
    for explicit, autograd in zip(*weights):
        torch.testing.assert_close(explicit, autograd, rtol=1e-5, atol=1e-6)


def test_the_cuda_graph_switch_says_why_a_run_cannot_be_captured() -> None:
    """A capture needs a GPU: on the CPU, auto takes the explicit step and on refuses with the reasons."""
    assert _stepper([]).graphed is None and _stepper([]).path == "explicit backward"
    assert _stepper(["train.engine=autograd"]).path == "autograd"
    with pytest.raises(ConfigError, match="train.cuda_graph: on.*the device is cpu.*goes through autograd"):
        _stepper(["train.cuda_graph=on", "loss.label_smoothing=0.1"])
    with pytest.raises(ConfigError, match="own optimizer settings, and the graph replays one learning rate"):
        _stepper(["train.cuda_graph=on", "train.members=2", "train.vary={optimizer.lr: [0.01, 0.1]}"])


def test_a_failed_capture_trains_on_without_the_graph_or_is_refused_when_required(monkeypatch) -> None:
    """The CUDA parts (the side stream, the capture) replaced by stand-ins, since a capture needs a GPU: after the
    warm-up steps a capture that raises is said once and the steps go on eagerly; with cuda_graph on it is
    refused in one line."""
    from nnintro.training.graphed import WARM_UP, GraphedStep

    stepper = _stepper([])
    for required in (False, True):
        graphed = GraphedStep(stepper.explicit, stepper.update, torch.device("cpu"), required=required)
        eager_calls = []
        monkeypatch.setattr(graphed, "_eager", lambda x, y, calls=eager_calls: calls.append(len(x)) or ("outputs", "losses"))

        def capture(x, y):
            raise RuntimeError("operation not permitted when stream is capturing\nmore lines")

        monkeypatch.setattr(graphed, "_capture", capture)
        x, y = torch.zeros(4, 1, 3, 3, dtype=torch.uint8), torch.zeros(4, dtype=torch.int64)
        graphed.eager_steps = WARM_UP
        monkeypatch.setattr(graphed.update, "ready", lambda: True)
        if required:
            with pytest.raises(ConfigError, match="train.cuda_graph: on, but the step could not be captured"):
                graphed(x, y)
            continue
        with pytest.warns(RuntimeWarning, match="could not be captured .*stream is capturing"):
            assert graphed(x, y) == ("outputs", "losses")
        assert graphed(x, y) == ("outputs", "losses") and eager_calls == [4, 4]  # tried once, then eager
        assert graphed.failure == "RuntimeError: operation not permitted when stream is capturing"
