"""The from-scratch numpy backpropagation: its gradients are autograd's, and it trains as the torch engine does."""
from __future__ import annotations

import pytest
import torch

from nnintro.config import load_config
from nnintro.errors import ConfigError
from nnintro.training.numpy_engine import NumpyEngine
from nnintro.training.outputs import member_losses
from nnintro.training.trainer import Trainer, prepare


@pytest.mark.parametrize("name, overrides", [
    ("xor_mlp", ["model.activation=sigmoid", "model.hidden=[5,4]"]),
    ("xor_mlp", ["model.activation=relu", "model.hidden=[6]", "model.bias=false"]),
    ("xor_mlp", ["model.activation=tanh", 'data.features=[x1,x2,"x1*x2"]']),
    ("xor_linear", []),
    ("diabetes_mlp", []),  # regression: MSE on standardized targets through the rescaling head
])
def test_numpy_gradients_equal_autograd(name, overrides):
    config = load_config(name, ["train.engine=numpy", *overrides])
    data, model = prepare(config)
    model = model.double()
    engine = NumpyEngine(model, data.task, config.loss)
    torch.manual_seed(0)
    x, y = data.train.x[:40].double(), data.train.y[:40]
    x = x + torch.randn_like(x)  # random inputs, not only the dataset's
    expected = member_losses(data.task.per_sample_loss(config.loss), model(x), y).mean()
    expected.backward()
    autograd = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    outputs, loss = engine.forward_backward(x, y)
    assert torch.allclose(loss, expected.detach().reshape(1), atol=1e-12)
    assert torch.allclose(outputs, model(x).detach(), atol=1e-12)
    for n, p in model.named_parameters():
        assert (p.grad - autograd[n]).abs().max() < 1e-6, n


def test_numpy_engine_trains_like_the_torch_engine():
    results = {}
    for engine in ("torch", "numpy"):
        config = load_config("xor_mlp", [f"train.engine={engine}", "train.epochs=25", "model.activation=sigmoid"])
        data, model = prepare(config)
        trainer = Trainer(config, data, model, None)
        trainer.fit()
        results[engine] = trainer.history[-1]
    assert results["numpy"]["val/accuracy"] == results["torch"]["val/accuracy"] > 0.9
    assert results["numpy"]["train/loss"] == pytest.approx(results["torch"]["train/loss"], rel=1e-4)


@pytest.mark.parametrize("overrides, message", [
    (["model.activation=gelu"], "model.activation 'gelu' has no from-scratch layer"),
    (["model.norm=batch", "train.members=2"], "model.norm must stay at its default; train.members"),
])
def test_numpy_engine_refuses_what_it_cannot_do(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config("xor_mlp", ["train.engine=numpy", *overrides])
    with pytest.raises(ConfigError, match="no from-scratch 'nll' for classification"):
        prepare(load_config("xor_mlp", ["train.engine=numpy", "loss=nll"]))


def test_a_sweep_trains_numpy_engine_models_one_at_a_time():
    from nnintro.training.packs import pack_groups

    configs = [load_config("xor_mlp", [f"train.engine={engine}", f"optimizer.lr={lr}"])
               for engine in ("torch", "numpy") for lr in (0.01, 0.03)]
    assert pack_groups(configs) == [[0, 1], [2], [3]]
