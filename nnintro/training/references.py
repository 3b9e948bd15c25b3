"""Reference models beside every table run: the trivial baseline (majority class or training mean),
scikit-learn's linear model (logistic or ridge regression) and its histogram gradient boosting, fitted on exactly
the network's training rows and scored on exactly its validation and test rows with the task's own metrics.

A network that does no better than these has not earned its number; one far better than gradient boosting on a
small table is worth a second look for a leak.
"""
from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import torch

from nnintro.datasets.base import DatasetBundle
from nnintro.tasks import Classification, SplitOutputs, Task

SEED = 0


def _classifiers(balanced: bool) -> dict[str, Any]:
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    weight = "balanced" if balanced else None
    return {"majority": DummyClassifier(strategy="prior"),
            "linear": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, class_weight=weight)),
            "gradient_boosting": HistGradientBoostingClassifier(random_state=SEED, class_weight=weight)}


def _regressors(targets: int) -> dict[str, Any]:
    from sklearn.dummy import DummyRegressor
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import RidgeCV
    from sklearn.multioutput import MultiOutputRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    boosting = HistGradientBoostingRegressor(random_state=SEED)
    return {"mean": DummyRegressor(strategy="mean"),
            "linear": make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13))),
            "gradient_boosting": MultiOutputRegressor(boosting) if targets > 1 else boosting}


def _outputs(model: Any, x: np.ndarray, task: Task) -> torch.Tensor:
    """What the network would output for these rows: log-probabilities over every class (a class the model never
    saw gets probability 0, floored), or predictions in the targets' units."""
    if isinstance(task, Classification):
        probabilities = np.full((len(x), task.width), 1e-12)
        probabilities[:, model.classes_] = np.maximum(model.predict_proba(x), 1e-12)
        return torch.from_numpy(np.log(probabilities)).float()
    predicted = model.predict(x)
    return torch.from_numpy(np.asarray(predicted, np.float64).reshape(len(x), -1)).float()


def _fit(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    started = time.perf_counter()
    with warnings.catch_warnings():  # convergence chatter: the scores say how well it did
        warnings.simplefilter("ignore")
        model.fit(x, y)
    return time.perf_counter() - started


def reference_metrics(data: DatasetBundle, loss_fn: Any, balanced: bool = False) -> dict[str, dict[str, Any]]:
    """{"majority" | "mean", "linear", "gradient_boosting": {"val": metrics, "test": metrics, "seconds": fit time}}.
    Under data.folds each is fitted once per fold on that fold's training rows: test is scored out of fold (every
    row by the fit that never saw it, as the network's), val as the folds' mean."""
    from sklearn.base import clone

    task = data.task
    classify = isinstance(task, Classification)
    x = {split: data.split(split).x.cpu().double().numpy() for split in ("train", "val", "test")}
    y = {split: data.split(split).y.cpu() for split in ("train", "val", "test")}
    masks = ({split: rows.cpu().numpy() for split, rows in data.folds.items()} if data.folds is not None else
             {split: np.ones((1, len(y[split])), bool) for split in ("train", "val", "test")})

    def targets(rows: np.ndarray) -> np.ndarray:
        values = y["train"].numpy()[rows]
        return values.ravel() if not classify and task.width == 1 else values

    def score(outputs: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
        return task.metrics(SplitOutputs(outputs, truth, loss_fn(outputs, truth)))

    results = {}
    for name, template in (_classifiers(balanced) if classify else _regressors(task.width)).items():
        seconds, val_scores = 0.0, []
        test_outputs = torch.zeros(len(y["test"]), task.width)
        for fold in range(len(masks["train"])):
            model = clone(template)
            seconds += _fit(model, x["train"][masks["train"][fold]], targets(masks["train"][fold]))
            val_rows, test_rows = masks["val"][fold], masks["test"][fold]
            val_scores.append(score(_outputs(model, x["val"][val_rows], task), y["val"][torch.from_numpy(val_rows)]))
            test_outputs[torch.from_numpy(test_rows)] = _outputs(model, x["test"][test_rows], task)
        val = {metric: sum(s[metric] for s in val_scores) / len(val_scores) for metric in val_scores[0]}
        results[name] = {"val": val, "test": score(test_outputs, y["test"]), "seconds": round(seconds, 3)}
    return results
