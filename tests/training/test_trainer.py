"""The trainer: seeding, the fast path against a plain reference loop, early stopping, divergence."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from nnintro.config import load_config
from nnintro.datasets.batches import train_batches
from nnintro.models.layers import plain_model
from nnintro.training.trainer import Trainer, prepare


def make_trainer(overrides):
    config = load_config(None, overrides)
    data, model = prepare(config)
    return Trainer(config, data, model, None)


def test_same_seed_gives_identical_history():
    histories = []
    for _ in range(2):
        result = make_trainer(["train.epochs=3", "model.dropout=0.2"]).fit()
        histories.append([{k: v for k, v in row.items() if k != "epoch_seconds"} for row in result.history])
    assert histories[0] == histories[1]


def test_fast_loop_computes_what_a_plain_loop_computes():
    """Same init, same batch order: the trainer's weights equal a textbook loop's after one epoch."""
    trainer = make_trainer(["train.epochs=1", "optimizer=sgd", "optimizer.lr=0.1", "optimizer.momentum=0.9"])
    reference = plain_model(trainer.model)  # torch.nn.Linear layers, the same initial weights
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9, foreach=False)
    for x, y, _ in train_batches(trainer.data.train, trainer.config.data.batch_size, trainer.config.seed, 1):
        optimizer.zero_grad()
        F.cross_entropy(reference(x.float()), y).backward()
        optimizer.step()
    trainer.fit()
    for (name, fast), slow in zip(plain_model(trainer.model).state_dict().items(), reference.state_dict().values()):
        assert torch.allclose(fast, slow, atol=1e-5), name


def test_train_metrics_are_sample_weighted_means():
    trainer = make_trainer(["train.epochs=1"])
    row = trainer.fit().history[0]
    assert 0 < row["train/loss"] < 3 and 0 <= row["train/accuracy"] <= 1 and row["epoch_seconds"] > 0


def test_early_stopping_restores_the_best_epoch():
    trainer = make_trainer(["train.epochs=40", "train.early_stopping.patience=2", "optimizer.lr=0.05",
                            "train.early_stopping.monitor=val_accuracy"])
    result = trainer.fit()
    best = max(row["val/accuracy"] for row in result.history)
    assert result.stopped_early and len(result.history) == result.best_epoch + 2
    assert result.history[result.best_epoch - 1]["val/accuracy"] == best
    assert trainer._validate()[0]["accuracy"] == best


def test_divergence_stops_with_the_epoch_and_step():
    trainer = make_trainer(["optimizer=sgd", "optimizer.lr=1e6", "train.epochs=5", "model.activation=identity"])
    result = trainer.fit()
    assert result.status == "diverged"
    assert "epoch 1, step" in result.message and "lower optimizer.lr" in result.message


def test_every_steps_loss_is_logged_and_averages_to_the_epochs():
    """steps.csv's rows: one per step, and their batch-size-weighted mean is the epoch's training loss."""
    trainer = make_trainer(["train.epochs=2"])
    history = trainer.fit().history
    n, batch = len(trainer.data.train), trainer.config.data.batch_size
    sizes = [min(batch, n - start) for start in range(0, n, batch)]
    assert [(row["epoch"], row["step"]) for row in trainer.steps_log] == [(e, s) for e in (1, 2)
                                                                         for s in range(1, len(sizes) + 1)]
    for epoch, row in zip((1, 2), history):
        losses = [r["loss"] for r in trainer.steps_log if r["epoch"] == epoch]
        assert abs(sum(loss * size for loss, size in zip(losses, sizes)) / n - row["train/loss"]) < 1e-5
