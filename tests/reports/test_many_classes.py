"""Reports stay bounded in memory and time whatever the class count (1,000 classes is the documented limit)."""
from __future__ import annotations

import numpy as np

from nnintro.reports import plots


def test_a_thousand_class_confusion_matrix_draws_the_classes_with_the_most_mistakes():
    rng = np.random.default_rng(0)
    counts = rng.poisson(0.02, (1000, 1000))
    counts[7, 3] = 50  # the worst confusion must be among what is drawn and listed
    figure = plots.confusion_matrix_figure(counts, [f"c{i}" for i in range(1000)], "many")
    (axis, _) = figure.axes
    labels = [tick.get_text() for tick in axis.get_xticklabels()]
    assert len(labels) == plots.MAX_DRAWN_CLASSES and {"c3", "c7"} <= set(labels)
    assert len(axis.texts) <= plots.MAX_DRAWN_CLASSES ** 2
    assert plots.most_confused(counts, [f"c{i}" for i in range(1000)])[0]["true"] == "c7"


def test_probability_bars_show_the_largest_classes_and_the_true_one():
    probabilities = np.full((2, 300), 1 / 300)
    probabilities[:, 5] = 0.5
    figure = plots.probabilities_figure(np.zeros((2, 1, 4, 4)), 1.0, probabilities, [f"c{i}" for i in range(300)],
                                        [299, None], ["a", "b"])
    bars = [axis for axis in figure.axes if axis.patches]
    assert [len(axis.patches) for axis in bars] == [plots.MAX_BARS + 1, plots.MAX_BARS]
    assert "c299" in [tick.get_text() for tick in bars[0].get_yticklabels()]
