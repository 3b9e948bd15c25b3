"""nnintro losses: the lecture's loss functions on given numbers, from their formulas and checked against torch."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from nnintro.cli import app
from nnintro.commands.losses import evaluate
from nnintro.errors import ConfigError

runner = CliRunner()


def _values(table) -> dict[str, float]:
    assert all(row["difference"] < 1e-12 for row in table.rows)  # the formula and torch agree
    return {row["loss"]: row["value"] for row in table.rows}


def test_regression_losses_are_the_textbook_numbers():
    values = _values(evaluate("2.5,0,2,8", None, None, "3,-0.5,2,7"))  # scikit-learn's own MSE example
    assert values["MSE"] == pytest.approx(0.375) and values["MAE"] == pytest.approx(0.5)
    assert values["Huber (delta 1)"] == pytest.approx((0.125 + 0.125 + 0 + 0.5) / 4)


def test_classification_losses_on_logits():
    values = _values(evaluate(None, "2,1,0.1", None, "0"))  # softmax (0.659, 0.242, 0.099)
    assert values["cross-entropy"] == pytest.approx(0.4170, abs=1e-4)
    assert values["NLL of log-softmax"] == values["cross-entropy"] == values["KL(one-hot ‖ softmax)"]
    two = _values(evaluate(None, "2,1,0.1; 0.5,2.5,0", None, "0,1"))
    assert two["cross-entropy"] == pytest.approx(0.3069, abs=1e-4)


def test_distributions_cross_entropy_is_kl_plus_the_targets_entropy():
    import math

    values = _values(evaluate(None, None, "0.7,0.2,0.1", "0.6,0.3,0.1"))
    entropy = -sum(q * math.log(q) for q in (0.6, 0.3, 0.1))
    assert values["cross-entropy H(q, p)"] == pytest.approx(values["KL(q ‖ p)"] + entropy)


@pytest.mark.parametrize("arguments,words", [
    (["--target", "1"], "give exactly one of --predicted"),
    (["--logits", "2,1", "--target", "3"], "one class index per sample (0 to 1"),
    (["--logits", "2,1", "--target", "0.5"], "one class index per sample"),
    (["--predicted", "1,2", "--target", "1"], "needs the shape of --predicted"),
    (["--predicted", "1,x", "--target", "1,2"], "numbers separated by commas"),
    (["--probabilities", "0.5,0.6", "--target", "0.5,0.5"], "must be a probability distribution"),
    (["--probabilities", "1,0", "--target", "0.5,0.5"], "above 0, since log p"),
    (["--predicted", "1,inf", "--target", "1,2"], "finite numbers"),
])
def test_bad_numbers_are_one_line(arguments, words):
    result = runner.invoke(app, ["losses", *arguments])
    assert result.exit_code == 2 and words in result.output and "Traceback" not in result.output
    with pytest.raises(ConfigError):
        options = dict(zip(arguments[::2], arguments[1::2]))
        evaluate(options.get("--predicted"), options.get("--logits"), options.get("--probabilities"),
                 options["--target"])
