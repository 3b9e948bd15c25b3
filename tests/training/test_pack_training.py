"""Packs: K models trained at once learn exactly as K separate models, each with its own stopping and guard."""
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


def test_each_member_learns_as_a_textbook_model_with_its_own_lr():
    lrs = [0.1, 0.03, 0.2]
    trainer = make_trainer(["train.epochs=1", "optimizer=sgd", "optimizer.momentum=0.9", "train.members=3",
                            f"train.vary={{optimizer.lr: {lrs}}}"])
    references = [plain_model(trainer.model, k) for k in range(3)]
    assert not torch.equal(references[0][2].weight, references[1][2].weight)  # seeds 0, 1, 2: different inits
    optimizers = [torch.optim.SGD(r.parameters(), lr=lr, momentum=0.9, foreach=False) for r, lr in zip(references, lrs)]
    for x, y, _ in train_batches(trainer.data.train, trainer.config.data.batch_size, trainer.config.seed, 1):
        for reference, optimizer in zip(references, optimizers):
            optimizer.zero_grad()
            F.cross_entropy(reference(x.float()), y).backward()
            optimizer.step()
    trainer.fit()
    for k, reference in enumerate(references):
        for (name, packed), alone in zip(plain_model(trainer.model, k).state_dict().items(),
                                         reference.state_dict().values()):
            assert torch.allclose(packed, alone, atol=1e-5), (k, name)


def test_a_diverging_member_is_frozen_while_the_others_train():
    trainer = make_trainer(["optimizer=sgd", "model.activation=identity", "train.epochs=3", "train.members=2",
                            "train.vary={optimizer.lr: [0.05, 1.0e+6]}"])
    initial = plain_model(trainer.model, 1).state_dict()
    result = trainer.fit()
    assert result.status == "completed" and len(result.history) == 3
    assert [m["status"] for m in result.members] == ["completed", "diverged"]
    assert "lower optimizer.lr (now 1e+06)" in result.members[1]["message"]
    for name, value in plain_model(trainer.model, 1).state_dict().items():  # back to its best: the start
        assert torch.equal(value, initial[name]), name
    assert result.history[-1]["val/accuracy"] == result.history[-1]["member0/val/accuracy"] > 0.5


def test_every_member_diverging_ends_the_run_as_diverged():
    result = make_trainer(["optimizer=sgd", "model.activation=identity", "train.epochs=3", "train.members=2",
                           "optimizer.lr=1e6"]).fit()
    assert result.status == "diverged" and "epoch 1, step" in result.message


def test_members_stop_early_on_their_own_and_keep_their_best_weights():
    trainer = make_trainer(["train.epochs=6", "train.members=2", "train.vary={optimizer.lr: [0.001, 1.0e-9]}",
                            "train.early_stopping.patience=2", "train.early_stopping.min_delta=0.001"])
    result = trainer.fit()
    assert [m["status"] for m in result.members] == ["completed", "stopped_early"]
    assert result.members[1]["best_epoch"] == 1 and len(result.history) == 6
    stopped = [row["member1/val/loss"] for row in result.history[3:]]
    assert len(set(stopped)) == 1  # frozen after epoch 3: the same weights, the same numbers
    assert trainer._validate()[1]["loss"] == result.history[0]["member1/val/loss"]  # kept epoch 1's weights
