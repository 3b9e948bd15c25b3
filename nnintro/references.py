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


def reference_metrics(data: DatasetBundle, loss_fn: Any, balanced: bool = False) -> dict[str, dict[str, Any]]:
    """{"majority" | "mean", "linear", "gradient_boosting": {"val": metrics, "test": metrics, "seconds": fit time}}."""
    task = data.task
    x_train = data.train.x.cpu().double().numpy()
    y_train = data.train.y.cpu().numpy()
    classify = isinstance(task, Classification)
    models = _classifiers(balanced) if classify else _regressors(task.width)
    if not classify and task.width == 1:
        y_train = y_train.ravel()
    results = {}
    for name, model in models.items():
        started = time.perf_counter()
        with warnings.catch_warnings():  # convergence chatter: the numbers below say how well it did
            warnings.simplefilter("ignore")
            model.fit(x_train, y_train)
        seconds = time.perf_counter() - started
        scored = {}
        for split in ("val", "test"):
            part = data.split(split)
            outputs = _outputs(model, part.x.cpu().double().numpy(), task)
            targets = part.y.cpu()
            scored[split] = task.metrics(SplitOutputs(outputs, targets, loss_fn(outputs, targets)))
        results[name] = {**scored, "seconds": round(seconds, 3)}
    return results
