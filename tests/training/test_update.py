"""The direct kernel call creates the optimizer state and moves the weights and the state exactly as
optimizer.step() does, also after the state was replaced by load_state_dict (a resumed run), and stands aside
where it does not apply; so training never loads torch's compiler."""
from __future__ import annotations

import pytest
import torch

from nnintro.training.update import DirectUpdate, direct_step

SETTINGS = [
    (torch.optim.SGD, {"lr": 0.1}),
    (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
    (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    (torch.optim.Adam, {"lr": 0.01}),
    (torch.optim.Adam, {"lr": 0.01, "weight_decay": 0.1, "betas": (0.8, 0.99)}),
    (torch.optim.AdamW, {"lr": 0.01, "weight_decay": 0.1}),
]


def _parameters() -> list[torch.nn.Parameter]:
    generator = torch.Generator().manual_seed(0)
    return [torch.nn.Parameter(torch.randn(shape, generator=generator)) for shape in ((3, 5), (5,))]


def _train(optimizer_class: type, options: dict, direct: bool, groups: bool = False) -> tuple[list[torch.Tensor], dict]:
    """groups: each parameter in a group of its own with its own lr (and momentum, for SGD), as a pack whose
    members have their own settings."""
    params = _parameters()
    if groups:
        own = [{"params": [params[0]]},
               {"params": [params[1]], "lr": options["lr"] / 3, **({"momentum": 0.5} if "momentum" in options else {})}]
        optimizer = optimizer_class(own, fused=True, **options)
    else:
        optimizer = optimizer_class(params, fused=True, **options)
    step = direct_step(optimizer) if direct else optimizer.step
    assert (step != optimizer.step) == direct
    stepped, original = [], optimizer.step
    optimizer.step = lambda: (stepped.append(1), original())
    generator = torch.Generator().manual_seed(1)
    for index in range(6):
        for p in params:
            p.grad = torch.randn(p.shape, generator=generator)
        if index == 3:  # what resuming does: the state and groups are new objects
            optimizer.load_state_dict(optimizer.state_dict())
        step()
    if direct:  # step() itself never: the direct update creates the state too
        assert not stepped
    return [p.detach() for p in params], optimizer.state_dict()


@pytest.mark.parametrize("groups", [False, True], ids=["one group", "a group per parameter"])
@pytest.mark.parametrize("optimizer_class,options", SETTINGS)
def test_the_direct_step_is_the_optimizers_step(optimizer_class: type, options: dict, groups: bool) -> None:
    direct, direct_state = _train(optimizer_class, options, True, groups)
    stepped, stepped_state = _train(optimizer_class, options, False, groups)
    for mine, theirs in zip(direct, stepped):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=0)
    for key, values in stepped_state["state"].items():
        for name, value in values.items():
            torch.testing.assert_close(direct_state["state"][key][name], value, rtol=0, atol=0)


def test_it_stands_aside_where_it_does_not_apply() -> None:
    params = _parameters()
    for optimizer in (torch.optim.SGD(params, lr=0.1, foreach=True), torch.optim.RMSprop(params, lr=0.1),
                      torch.optim.Adam(params, lr=0.1, fused=True, amsgrad=True),
                      torch.optim.SGD([{"params": params[:1]}, {"params": params[1:], "maximize": True}], lr=0.1,
                                      fused=True)):
        assert direct_step(optimizer) == optimizer.step


@pytest.mark.parametrize("optimizer_class,options", [SETTINGS[1], SETTINGS[4], SETTINGS[5]])
def test_a_learning_rate_tensor_updates_as_the_groups_number(optimizer_class: type, options: dict) -> None:
    """What a captured CUDA graph passes: the lr as a tensor the host refreshes, not a number baked in."""
    results = []
    for as_tensor in (False, True):
        params = _parameters()
        update = DirectUpdate.for_optimizer(optimizer_class(params, fused=True, **options))
        for index in range(4):
            for p in params:
                p.grad = torch.full(p.shape, 0.1 * (index + 1))
            update(torch.tensor(options["lr"]) if as_tensor else None)
        results.append([p.detach() for p in params])
    for number, tensor in zip(*results):
        torch.testing.assert_close(number, tensor)


def test_a_training_run_never_loads_torchs_compiler(tmp_path) -> None:
    """torch.optim's first step() and its methods' wrappers import torch._dynamo (about 2 s of start-up); nnintro's
    training needs none of it. In a fresh process, since this one may have loaded it already."""
    import subprocess
    import sys

    script = ("import sys\nfrom nnintro.notebook import train\n"
              "train('digits_mlp', {'report.plots': False, 'train.epochs': 2, 'scheduler.name': 'cosine'})\n"
              "train('xor_mlp', {'report.plots': False, 'train.epochs': 2, 'optimizer.name': 'sgd', 'optimizer.momentum': 0.9,"
              " 'train.members': 2, 'train.vary': {'optimizer.lr': [0.01, 0.1]}})\n"
              "print('compiler loaded' if 'torch._dynamo' in sys.modules else 'compiler not loaded')")
    result = subprocess.run([sys.executable, "-W", "error:Detected call", "-c", script], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("compiler not loaded"), result.stdout[-2000:]
