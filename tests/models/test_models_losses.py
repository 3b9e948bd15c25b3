"""Models, activations and losses."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nnintro.config import load_config
from nnintro.models.layers import ACTIVATIONS, architecture_for, build_model, count_parameters, describe
from nnintro.tasks import Classification
from nnintro.tasks.classification import LOSSES

NORM = {"scale": 1 / 255, "mean": [0.5], "std": [0.25]}


def per_sample_loss(loss_config):
    return Classification([str(c) for c in range(4)]).per_sample_loss(loss_config)


def arch(kind="mlp", hidden=(128,), activation="relu", dropout=0.0, shape=(1, 28, 28)):
    config = load_config(None, [f"model.kind={kind}", f"model.hidden={list(hidden)}",
                                f"model.activation={activation}", f"model.dropout={dropout}"]).model
    return architecture_for(config, list(shape), 10, NORM)


def test_linear_is_one_layer_softmax_regression():
    model = build_model(arch("linear"))
    assert count_parameters(model) == 784 * 10 + 10
    assert describe(arch("linear")) == "linear 784-10"


def test_mlp_parameter_count_matches_the_course_lab():
    architecture = arch(hidden=(512, 256), shape=(3, 32, 32))
    assert count_parameters(build_model(architecture)) == 3072 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10
    assert describe(architecture) == "mlp 3072-512-256-10 relu"


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_activation_trains(activation):
    model = build_model(arch(hidden=(16,), activation=activation, dropout=0.1))
    x = torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8)
    loss = F.cross_entropy(model(x)[0], torch.arange(8))
    loss.backward()
    assert torch.isfinite(loss) and model[-1].weight.grad is not None


def test_inputs_are_standardized_inside_the_model():
    model = build_model(arch("linear"))
    standardize = model[0]
    x = torch.full((1, 1, 28, 28), 255, dtype=torch.uint8)
    assert torch.allclose(standardize(x), torch.full((1, 1, 28, 28), (1 - 0.5) / 0.25))
    assert torch.allclose(standardize(x.float()), standardize(x))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_are_per_sample_and_prefer_the_right_class(name):
    loss_fn = per_sample_loss(load_config(None, [f"loss={name}"]).loss)
    labels = torch.tensor([0, 1, 2])
    right = torch.eye(3)[labels] * 5
    wrong = torch.eye(3)[(labels + 1) % 3] * 5
    assert loss_fn(right, labels).shape == (3,)
    assert (loss_fn(right, labels) < loss_fn(wrong, labels)).all()


def test_cross_entropy_label_smoothing_and_one_hot_losses():
    logits, labels = torch.randn(5, 4), torch.tensor([0, 1, 2, 3, 0])
    smoothed = per_sample_loss(load_config(None, ["loss.label_smoothing=0.1"]).loss)
    assert torch.allclose(smoothed(logits, labels).mean(), F.cross_entropy(logits, labels, label_smoothing=0.1))
    kl = per_sample_loss(load_config(None, ["loss=kl_div"]).loss)
    assert torch.allclose(kl(logits, labels), F.cross_entropy(logits, labels, reduction="none"), atol=1e-6)
    mse = per_sample_loss(load_config(None, ["loss=mse"]).loss)
    expected = F.mse_loss(logits.softmax(1), F.one_hot(labels, 4).float())
    assert torch.allclose(mse(logits, labels).mean(), expected)


def test_per_class_scores_equal_scikit_learns_report():
    import numpy as np
    from sklearn.metrics import classification_report

    from nnintro.reports.plots import per_class_scores

    rng = np.random.default_rng(0)
    true = rng.integers(0, 5, 300)
    predicted = np.where(rng.random(300) < 0.7, true, rng.integers(0, 5, 300))
    predicted[predicted == 4] = 3  # a class never predicted: precision 0, as scikit-learn's zero_division=0
    counts = np.zeros((5, 5), int)
    np.add.at(counts, (true, predicted), 1)
    names = list("abcde")
    expected = classification_report(true, predicted, labels=range(5), target_names=names, output_dict=True,
                                     zero_division=0)
    ours = per_class_scores(counts, names)
    for key in [*names, "macro avg", "weighted avg"]:
        assert ours[key] == pytest.approx(expected[key], abs=1e-12)
    assert ours["accuracy"] == pytest.approx(expected["accuracy"])


def test_the_perceptrons_activations_have_no_slope_and_the_bias_moves_the_sigmoid():
    """plot activations' numbers: step and sign are flat wherever their derivative exists (nothing for gradient
    descent), the models' activations' derivatives come from autograd, and sigma(z + b) is 1/2 at z = -b."""
    import numpy as np

    from nnintro.commands.plot import activation_curves, sigmoid_shifts

    curves = activation_curves()
    for name in ("step (perceptron): f' = 0", "sign (perceptron): f' = 0"):
        x, y, dy = curves[name]
        assert not dy.any() and set(np.unique(y)) <= {-1.0, 0.0, 1.0}
    x, y, dy = curves["sigmoid"]
    assert np.allclose(dy, y * (1 - y))
    for bias, (z, shifted) in sigmoid_shifts().items():
        assert shifted[np.argmin(np.abs(z + bias))] == pytest.approx(0.5)
